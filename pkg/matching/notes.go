package matching

import (
	"time"
)

// Author names used in notes.
const (
	AuthorSystem = "System"
	AuthorAPI    = "API"
)

// Note formats one line of a notes log as the reference's add_note does:
// "[YYYY-MM-DD HH:MM] text" or "[YYYY-MM-DD HH:MM (author)] text", the time in UTC.
func Note(at time.Time, author, text string) string {
	stamp := at.UTC().Format("2006-01-02 15:04")
	if author != "" {
		stamp += " (" + author + ")"
	}
	return "[" + stamp + "] " + text
}

// AppendNote joins note to existing notes with a newline, as add_note does.
func AppendNote(existing *string, note string) string {
	if existing == nil || *existing == "" {
		return note
	}
	return *existing + "\n" + note
}
