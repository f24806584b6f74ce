package api

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/curavani/matching/pkg/fault"
	"github.com/curavani/matching/pkg/store"
)

// missingHelp is flask-restful reqparse's help text for a missing required
// argument; existing clients may show it.
const missingHelp = "Missing required parameter in the JSON body or the post body or the query string"

// argError is reqparse's 400: "message" is an object from the argument's
// name to what is wrong with it.
func argError(name, help string) *fault.Error {
	return fault.Invalidf("%s: %s", name, help).With("message", map[string]string{name: help})
}

// missingArg is reqparse's 400 for a missing required argument.
func missingArg(name string) *fault.Error { return argError(name, missingHelp) }

// errNoRoute is the reference's (Flask's) 404 of a URL no route matches.
var errNoRoute = fault.NotFoundf("The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.")

// errMethodNotAllowed is Flask's 405 of a method a route does not serve.
var errMethodNotAllowed = &fault.Error{Kind: fault.MethodNotAllowed, Message: "The method is not allowed for the requested URL."}

// handler is the shape of every endpoint: it reads the request, does the
// work and returns the status and JSON body of its answer, or an error.
type handler func(r *http.Request) (status int, body any, err error)

// handle serves h: its body with its status, or its error as writeError
// answers it.
func (s *Server) handle(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		status, body, err := h(r)
		if err != nil {
			status = s.writeError(w, r, err)
		} else {
			writeJSON(w, status, body)
		}
		// One DEBUG line per request; the logger adds the request's id.
		s.log.LogAttrs(r.Context(), slog.LevelDebug, "request handled", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", status), slog.Duration("duration", time.Since(start)))
	}
}

// writeJSON writes v with status code. HTML characters stay unescaped, as
// Python's json module writes them.
func writeJSON(w http.ResponseWriter, code int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		http.Error(w, `{"message": "Internal server error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

// writeError answers err with the status fault.Status gives it and the
// reference's body {"message": …, extra keys…}. A database error gets its
// kind first (store.Classify: a plain read's error has none yet). A
// *fault.Error shows its message; anything else is shown as "Internal server
// error". The body never carries an error's cause; a 5xx is logged with it.
// It returns the status it answered.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) int {
	err = store.Classify(r.Context(), err)
	code := fault.Status(err)
	body := map[string]any{}
	fe := fault.As(err)
	if fe != nil && fe.Message != "" {
		body["message"] = fe.Message
		for k, v := range fe.Extra {
			body[k] = v
		}
	} else {
		body["message"] = "Internal server error"
	}
	switch {
	case code >= 500 && r.Context().Err() != nil:
		// The caller hung up (or gave up waiting) before the work ended, so
		// the work was cut off by its context: nobody reads this answer, and
		// it is no failure of the service. An ERROR line would page for
		// every impatient client (the load test's clients showed it).
		s.log.InfoContext(r.Context(), "request abandoned by the caller", "method", r.Method, "path", r.URL.Path, "status", code, "error", err.Error())
	case code >= 500:
		s.log.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "status", code, "error", err.Error())
	}
	writeJSON(w, code, body)
	return code
}
