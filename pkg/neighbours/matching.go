package neighbours

import "github.com/curavani/matching/pkg/matching"

// Matching is the patient as the matching rules read it: no name, no
// contact data.
func (p Patient) Matching() matching.Patient {
	return matching.Patient{
		ID: p.ID, Strasse: p.Strasse, PLZ: p.PLZ, Ort: p.Ort, Verkehrsmittel: p.Verkehrsmittel,
		Geschlecht: p.Geschlecht, Geburtsdatum: p.Geburtsdatum, Symptome: p.Symptome, Krankenkasse: p.Krankenkasse,
		ErfahrungMitPsychotherapie: p.ErfahrungMitPsychotherapie, LetzteSitzungVorherigePsychotherapie: p.LetzteSitzungVorherigePsychotherapie,
		OffenFuerGruppentherapie: p.OffenFuerGruppentherapie, BevorzugtesTherapieverfahren: p.BevorzugtesTherapieverfahren,
		ZeitlicheVerfuegbarkeit: p.ZeitlicheVerfuegbarkeit, RaeumlicheVerfuegbarkeit: p.RaeumlicheVerfuegbarkeit,
		BevorzugtesTherapeutengeschlecht: p.BevorzugtesTherapeutengeschlecht, AusgeschlosseneTherapeuten: p.AusgeschlosseneTherapeuten,
	}
}

// Matching is the therapist as the matching rules read it.
func (t Therapist) Matching() matching.Therapist {
	return matching.Therapist{
		ID: t.ID, Anrede: t.Anrede, Titel: t.Titel, Vorname: t.Vorname, Nachname: t.Nachname,
		Strasse: t.Strasse, PLZ: t.PLZ, Ort: t.Ort, Email: t.Email, Status: t.Status,
		Geschlecht: t.Geschlecht, Psychotherapieverfahren: t.Psychotherapieverfahren, TelefonischeErreichbarkeit: t.TelefonischeErreichbarkeit,
		AlterMin: t.AlterMin, AlterMax: t.AlterMax, Geschlechtspraeferenz: t.Geschlechtspraeferenz, BevorzugtGruppentherapie: t.BevorzugtGruppentherapie,
		PotenziellVerfuegbar: t.PotenziellVerfuegbar, UeberCuravaniInformiert: t.UeberCuravaniInformiert, NaechsterKontaktMoeglich: t.NaechsterKontaktMoeglich,
	}
}
