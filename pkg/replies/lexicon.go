package replies

import (
	"regexp"
	"strings"
)

// The clerk's phrase list. Patterns are written in folded spelling (see
// fold: lower case, ae/oe/ue, ss) and matched inside one clause. Tables are
// tried in the order of lexicon, each entry in its order; a matched phrase
// is used up, so a later, more general entry cannot read it again ("keine
// Warteliste" is a capacity reason and never a waiting-list offer; "keinen
// Platz" is no capacity and never an offered place).

// kind is what a phrase means for the patients its clause is about.
type kind uint8

const (
	kNeutral   kind = iota // used up, means nothing: logistics, courtesy
	kUndecided             // leaves them undecided (a question back, "melde mich später")
	kReject                // a rejection; its category, if any, says why
	kReason                // a reason that colours a rejection but decides nothing alone
	kHedge                 // weakens every offer after it in the clause ("eventuell")
	kCondition             // makes every offer of its clause conditional ("falls", "ob")
	kAccept                // an offer of a place or an appointment
)

// category is why a rejection was given, from weakest to strongest claim.
type category uint8

const (
	catNone       category = iota // no reason given ("muss leider absagen")
	catPlace                      // "keinen Platz anbieten": no capacity, unless a reason says otherwise
	catCapacity                   // no place: full, booked up, waiting list closed
	catOther                      // retirement, leave, illness, insurance, hours
	catUnsuitable                 // outside the specialty, age range, setting
)

// offer is how an accepting phrase reads when negated.
type offer uint8

const (
	offerVerb  offer = iota // "kann ich nehmen" → "kann ich nicht nehmen": a rejection without reason
	offerPlace              // "einen Platz frei" → "keinen Platz frei": no capacity
)

type phrase struct {
	re    filtered
	kind  kind
	cat   category
	offer offer
	why   string // for kUndecided: the reason shown to the clerk
}

// Pattern shorthands, expanded before compiling.
var shorthand = strings.NewReplacer(
	"{w}", `(?:[^ ,.;:!?]+ )`, // one word and its space
	"{platz}", `(?:\b(?:therapie|behandlungs|psychotherapie|kassen|einzel)?(?:platz|plaetze|plaetzen)\b|\bkapazitaet(?:en)?\b)`,
	"{neg}", `(?:\bnicht\b|\bnich\b|\bkein\w*|\bniemand\w*|\bnie\b|\bweder\b)`,
	"{praxis}", `(?:\w*praxis|\w*ambulanz|\w*klinik|\w*kolleg\w*|\w*therapeut\w*|spezialist\w*|einrichtung|beratungsstelle|schwerpunkt\w*)`,
	"{label}", `(?:(?:person|nr\.?|nummer|id|pat\.?-?id|patient\w*|#) ?\d+|\d{3,})`,
	"{month}", `(?:januar|februar|maerz|april|mai|juni|juli|august|september|oktober|november|dezember|jahresende|jahreswechsel)`,
)

func p(k kind, cat category, pattern, why string) phrase {
	return phrase{re: newFiltered(regexp.MustCompile(shorthand.Replace(pattern))), kind: k, cat: cat, why: why}
}

func offerPhrase(o offer, pattern string) phrase {
	ph := p(kAccept, catNone, pattern, "")
	ph.offer = o
	return ph
}

// Reasons for undecided patients, as shown to the clerk.
const (
	reasonNotMentioned        = "nicht erwähnt"
	reasonMentionedNoDecision = "erwähnt, aber nichts entschieden"
	reasonQuestion            = "Rückfrage"
	reasonLater               = "meldet sich später / noch offen"
	reasonCall                = "bittet um Anruf"
	reasonWaitingList         = "Warteliste ohne Platz"
	reasonConditional         = "Zusage unter Vorbehalt oder Bedingung"
	reasonContradiction       = "widersprüchlich"
	reasonReasonsClash        = "Ablehnungsgründe widersprechen sich"
	reasonNoReason            = "Absage ohne erkennbaren Grund"
	reasonUnknownCause        = "Absage mit einem Grund, den die Regeln nicht kennen"
	reasonAmbiguous           = "Beschreibung passt auf mehrere oder keine Person"
	reasonUnknownRef          = "Verweis auf eine unbekannte Person"
	reasonPartial             = "nur ein Teil, offen wer"
	reasonNoTarget            = "Zusage ohne Bezug auf eine Person"
	reasonAutomatic           = "automatische Antwort"
	reasonColleague           = "an Kollegin/Kollegen verwiesen"
)

// neutral phrases carry words the other tables would misread.
var neutral = []phrase{
	// Logistics after an offer: "ob der Termin passt", "falls das nicht passt".
	p(kNeutral, 0, `\b(?:falls|wenn|sofern|ob) (?:ihnen |ihr |ihm |der patientin |dem patienten |es )?(?:das|der (?:\w+ )?termin|die (?:uhr)?zeit|es|dies|dieser termin|der vorschlag|das datum)(?: \w+){0,2} (?:nicht )?(?:passt|passen|klappt|geht|recht ist|moeglich ist|wahrgenommen wird|wahrnehmen kann|zusagt)`, ""),
	p(kNeutral, 0, `\bbitte um (?:kurze |eine |ihre )?(?:bestaetigung|rueckmeldung|antwort|info)`, ""),
	p(kNeutral, 0, `\b(?:ich )?melde mich (?:\w+ ){0,3}bei (?:der patientin|dem patienten|ihr|ihm|der person|den patienten)\b`, ""),
	p(kNeutral, 0, `\b(?:bei der|bei ihrer|fuer die|auf der) (?:weiteren )?suche\b|\b(?:suche|suchen|sucht) (?:\w+ ){0,3}(?:nach )?(?:einem |einen )?{platz}`, ""),
	p(kNeutral, 0, `\b(?:viel erfolg|alles gute|gute besserung|vielen dank|herzlichen dank|danke (?:fuer|schoen|sehr)|kein problem|keine ursache|nicht nur|ohne weiteres|gar kein problem|nicht zu vergessen)\b`, ""),
	p(kNeutral, 0, `\btelefonische\w* sprech(?:stunde|zeit)\w*|\bsprechzeit\w*|\bterminservicestelle\w*|\bbereitschaftsdienst\w*|\bkrisendienst\w*|\b116 ?117\b`, ""),
	p(kNeutral, 0, `\bich nehme an\b|\bnehme (?:ich )?an,? (?:dass|das)\b`, ""),
	p(kNeutral, 0, `\bpass\w* (?:sehr |ganz |auch )?(?:gut|prima|perfekt|wunderbar) (?:zu|in)\b`, ""),
	p(kNeutral, 0, `\b(?:fragen|melden) sie (?:\w+ ){0,4}(?:gerne |gern )?(?:wieder|erneut|nochmal|noch einmal)\b`, ""),
}

// undecided phrases leave the patients they are about undecided.
var undecided = []phrase{
	// Waiting list without a place. ("keine Warteliste" is in capacityShadow.)
	p(kUndecided, 0, `\b(?:auf|in) (?:die|meine|unsere|der|meiner|unserer|eine) (?:\w+ )?warteliste\b|\bwarteliste(?:nplatz|nplaetze)?\b (?:\w+ ){0,3}(?:setzen|nehmen|aufnehmen|eintragen|vormerken|anbieten)|\bvormerk\w*|\bwait(?:ing)? ?list\b`, reasonWaitingList),
	// Will answer later, cannot say yet.
	p(kUndecided, 0, `\b(?:ich |wir )?(?:melde|melden) (?:mich|uns)\b|\b(?:gebe|geben) (?:ich |wir )?(?:ihnen )?(?:\w+ ){0,3}bescheid\b|\b(?:ich|wir) (?:\w+ ){0,3}(?:sage|sagen) (?:ihnen )?(?:\w+ ){0,3}bescheid\b|\bget back to you\b`, reasonLater),
	p(kUndecided, 0, `\b(?:kann|koennte|werde|kann ich) (?:ich )?(?:\w+ ){0,5}(?:erst|noch nicht|spaeter|naechste woche) (?:\w+ ){0,4}(?:sagen|entscheiden|beurteilen|zusagen|absehen|mitteilen|einschaetzen)\b|\bnoch (?:nicht )?(?:sicher|unklar|offen|ungewiss|unsicher)\b|\bnicht (?:sicher|absehbar)\b|\bnoch keine (?:entscheidung|zusage)\b`, reasonLater),
	p(kUndecided, 0, `\b(?:kann|koennen) (?:ich |wir )?(?:\w+ ){0,2}(?:noch )?nicht (?:\w+ ){0,2}(?:sagen|absehen|versprechen|einschaetzen|beurteilen)\b|\bweiss (?:ich )?(?:\w+ ){0,2}nicht\b`, reasonLater),
	p(kUndecided, 0, `\bentscheidet sich\b|\bentscheide (?:ich )?(?:mich )?(?:\w+ ){0,3}(?:spaeter|dann|noch|erst)\b|\b(?:haengt|haengen) (?:\w+ ){0,4}ab\b|\babhaengig (?:davon|von)\b|\bkommt (?:darauf|drauf) an\b|\bje nachdem\b`, reasonLater),
	p(kUndecided, 0, `\b(?:muss|muesste|moechte|will) (?:ich )?(?:\w+ ){0,3}(?:pruefen|schauen|klaeren|abklaeren|ueberlegen|nachsehen|nachschauen|abwarten|ruecksprache)\b|\b(?:ueberlege|pruefe) (?:ich )?(?:es |das )?(?:noch|mal|gerne)\b|\bruecksprache\b`, reasonLater),
	// A question back before a decision.
	p(kUndecided, 0, `\b(?:braeuchte|benoetige|benoetigen|brauche|braeuchten|haette gerne|haette ich gerne|bitte um) (?:ich |wir )?(?:\w+ ){0,4}(?:informationen|infos|angaben|unterlagen|befund\w*|bericht\w*|details|auskunft|diagnose\w*)\b|\b(?:vorab|vorher|zunaechst) (?:\w+ ){0,3}(?:wissen|klaeren|informationen|infos)\b|\bmuesste ich (?:\w+ ){0,3}wissen\b|\brueckfrage\w*`, reasonQuestion),
	// Asks to be called.
	p(kUndecided, 0, `\brufen sie (?:mich |uns )?(?:\w+ ){0,4}an\b|\b(?:um|bitte um|erbitte) (?:einen |ihren )?rueckruf\b|\btelefonisch (?:besprechen|klaeren|abstimmen|sprechen|bereden)\b|\bbespreche (?:ich )?(?:das |dies )?(?:lieber |gerne |besser )?telefonisch\b|\b(?:kurz )?telefonieren\b|\bcall me\b`, reasonCall),
	// An offer under reserve.
	p(kUndecided, 0, `\bbevor ich (?:\w+ ){0,3}(?:zusage|zusagen|entscheide|mich festlege)\b|\b(?:unter vorbehalt|vorbehaltlich|unverbindlich)\b`, reasonConditional),
	// Only some, not saying who.
	p(kUndecided, 0, `\bnicht (?:alle|beide|jede\w*)\b|\b(?:nur|lediglich|hoechstens|maximal|eine|einen|einer|ein paar|einige) (?:(?:eine\w*|zwei|drei) )?(?:der|von den|von ihnen|davon)\b`, reasonPartial),
	// Passed on to a colleague.
	p(kUndecided, 0, `\b(?:an|zu) (?:eine|meine|einen|meinen|unsere|unseren) (?:\w+ )?(?:kollegin|kollegen)\b (?:\w+ ){0,4}(?:weiter\w*|verwiesen|gegeben)|\bweitergeleitet\b`, reasonColleague),
}

// thirdParty phrases speak of someone else's places: "meine Kollegin hat
// noch Plätze frei" is no offer of this therapist, "meine Nachfolgerin nimmt
// neue Patienten" no rejection. The rest of the clause is used up.
var thirdParty = []phrase{
	p(kNeutral, 0, `\b(?:meine|eine|unsere|die|der|ihre|einer|meiner) (?:\w+ )?(?:kollegin|kollege|kollegen|praxiskolleg\w*|nachfolger\w*|vertretung|vertreterin|vertreter)\b.*`, ""),
}

// capacityShadow are capacity reasons that contain words of the undecided
// table ("Warteliste") and so must be read before it.
var capacityShadow = []phrase{
	p(kReject, catCapacity, `{neg} (?:\w+ ){0,3}(?:(?:platz|plaetze) )?(?:auf|in) (?:die|meine|der|meiner|unsere|unserer) warteliste\b`, ""),
	p(kReject, catCapacity, `\bwarteliste (?:\w+ ){0,4}(?:geschlossen|voll|zu|dicht)\b|\b(?:keine|schliesse|geschlossene|volle) (?:\w+ )?warteliste\b|\bwarteliste (?:fuehre|habe) ich (?:\w+ )?nicht\b|\bwartelisten?stopp\b`, ""),
	p(kReason, catCapacity, `\bwartezeit (?:\w+ ){0,5}(?:\d+|ein\w*|zwei|drei|vier|sechs|neun|zwoelf)(?: ?- ?\d+)? (?:monat\w*|jahr\w*)\b|\blange wartezeit\b`, ""),
}

// rejections decide a rejection with the category they name.
var rejections = []phrase{
	// No capacity.
	p(kReject, catCapacity, `{neg} (?:\w+ ){0,2}freie\w* {platz}|{neg} (?:\w+ ){0,3}{platz} (?:\w+ ){0,2}(?:mehr|frei)\b|\bkeine\w* (?:\w+ ){0,2}kapazitaet\w*|{platz} (?:\w+ ){0,3}(?:belegt|besetzt|ausgeschoepft|erschoepft)\b|{platz} (?:\w+ ){0,2}(?:sind|ist|schon|bereits|alle) (?:\w+ )?vergeben\b|{platz} vergeben (?:habe|hab|haben|sind|wurden|ist)\b|\bletzte\w* (?:freie\w* )?{platz}`, ""),
	p(kReject, catCapacity, `\b(?:ausgebucht|ausgelastet|voll ?belegt|ueberbucht|ueberlastet|fully booked|booked up)\b|\b(?:bin|sind|ist|waere|bleibe|bleibt) (?:\w+ ){0,3}(?:voll|dicht)(?:[.,;!)]|$| (?:und|mit|bis|belegt|ausgelastet|besetzt))|\b(?:voll|dicht) (?:bin|sind|ist|waere)\b|\b(?:bin|sind|ist) (?:\w+ ){0,3}(?:belegt|besetzt)\b`, ""),
	p(kReject, catCapacity, `(?:^|[:;,-] )(?:leider |aktuell |derzeit |momentan |komplett |total |voellig )*(?:voll|dicht)(?:[ ,.;!)]|$)`, ""),
	p(kReject, catCapacity, `\b(?:nichts|nix)(?: \w+){0,2} (?:frei|verfuegbar)\b|\bgeht (?:\w+ ){0,3}nichts mehr\b|\bkeine (?:freien |neuen )?termine\b|\bno (?:free )?(?:capacity|places?|slots?|space)\b`, ""),
	p(kReject, catCapacity, `\bfruehestens (?:\w+ ){0,3}(?:jahr\w*|(?:\d+|zwei|drei|sechs|neun|zwoelf) monat\w*)\b|\b(?:erst|nicht vor) (?:wieder )?(?:\w+ ){0,2}(?:naechste\w*|kommende\w*) jahr\w*`, ""),
	p(kReject, catCapacity, `\berst (?:\w+ ){0,3}wieder (?:\w+ ){0,2}{platz}|{platz} (?:\w+ ){0,3}erst (?:\w+ ){0,3}wieder\b`, ""),
	p(kReject, catCapacity, `\bkapazitaetsgr(?:u|ue)nd\w*|\baus kapazitaet\w*`, ""),
	// "Ich kann Ihnen keinen Platz anbieten" is also said by those who
	// retire or treat only private patients.
	p(kReject, catPlace, `{neg} (?:\w+ ){0,3}{platz}`, ""),
	// Taking no new patients at all (Aufnahmestopp): full, retiring, ill, on
	// leave? The reason must come from elsewhere.
	p(kReject, catNone, `\bkeine (?:\w+ )?neue\w* (?:patient\w*|klient\w*|anfragen|behandlung\w*|therapie\w*|faelle|aufnahmen)|\bneue\w* (?:patient\w*|klient\w*|behandlung\w*|anfragen|therapie\w*) (?:\w+ ){0,4}(?:nicht|keine)\b|\baufnahmestopp\w*|\bannahmestopp\w*`, ""),
	// Not suitable: outside the specialty, the age range, the setting.
	p(kReject, catUnsuitable, `\bnicht (?:\w+ ){0,2}(?:mein|meine|meinem|meinen|meiner|unser\w*) (?:\w+ )?(?:schwerpunkt\w*|gebiet|fachgebiet\w*|bereich|spezialgebiet|spektrum|behandlungsspektrum|fachbereich|metier|kompetenz\w*|fachrichtung|profil|angebot|praxisprofil)\b|\b(?:ausserhalb|jenseits) (?:meines|meiner|unseres|unserer) \w+`, ""),
	p(kReject, catUnsuitable, `\b(?:kaeme|komme|kommen) (?:ich |wir )?(?:\w+ ){0,2}nicht in frage\b|\bnicht (?:die|der|das) (?:richtige|passende|geeignete)\w*|\bnicht (?:geeignet|passend)\b|\bungeeignet\b|\bpass(?:t|en|e) (?:\w+ ){0,2}nicht (?:zu|in) (?:mein\w*|das|unser\w*)\b|\bnot my (?:field|specialty|speciality|area)\b`, ""),
	p(kReject, catUnsuitable, `\b(?:keine|ohne) (?:\w+ ){0,2}(?:\w*qualifikation|fachkunde|\w*erfahrung|\w*weiterbildung|\w*ausbildung)\b|\bnur (?:eine |die )?(?:zulassung|fachkunde|approbation|abrechnungsgenehmigung) fuer (?:kinder|jugendliche|erwachsene)\b|\bzu (?:jung|alt)\b`, ""),
	p(kReject, catUnsuitable, `{praxis} (?:\w+ ){0,4}(?:besser|sinnvoller|geeigneter|passender|angebrachter|richtiger)\b|\b(?:besser|sinnvoller|geeigneter|eher) (?:\w+ ){0,3}(?:in|bei|an) (?:einer |einem |eine |einen )?(?:\w+ )?{praxis}`, ""),
	// Another reason: retirement, leave, illness, moving, insurance, hours.
	p(kReject, catOther, `\bruhestand\b|\bin rente\b|\bpraxis (?:\w+ ){0,5}(?:abgeben|aufgeben|schliessen|uebergeben|abgebe|aufgebe|schliesse|aufloesen|aufloese)\b|\b(?:schliesse|schliessen|gebe|geben|loese|uebergebe) (?:\w+ ){0,2}(?:meine|unsere|die) praxis\b|\bpraxis(?:abgabe|aufgabe|schliessung|uebergabe)\b|\baus altersgruenden\b`, ""),
	p(kReject, catOther, `\b(?:elternzeit|mutterschutz|mutterschaft|sabbatical|auszeit|sonderurlaub|babypause|erziehungszeit)\b|\baus gesundheitlichen gruenden\b|\bkrankheitsbedingt\b|\b(?:bin|war) (?:\w+ ){0,2}(?:erkrankt|krank)\b`, ""),
}

// reasons colour a rejection found elsewhere but decide nothing alone.
var reasons = []phrase{
	p(kReason, catCapacity, `\bnur (?:noch )?(?:diesen|den|einen|1) (?:einen |einzigen )?{platz}|\bnur noch (?:die )?laufende\w* (?:therapien|behandlungen|patient\w*)`, ""),
	p(kReason, catUnsuitable, `\b(?:nur|ausschliesslich|lediglich) (?:\w+ ){0,2}(?:kinder\w*|jugendliche\w*|erwachsene\w*|frauen|maenner|paare\w*|senioren|familien)\b(?: (?:und|oder|sowie) (?:\w+ )?(?:kinder\w*|jugendliche\w*|erwachsene\w*|familien|paare\w*))?|\bkinder- ?und jugendlichen-?psychotherapeut\w*|\bkjp\b|\baltersgrenze\b|\b(?:bis|ab|unter|ueber|zwischen) (?:\d{1,2} und )?\d{1,2} jahr\w*|\bminderjaehrig\w*|\bvolljaehrig\w*|\bstationaer\w*|\btagesklinik\w*`, ""),
	p(kReason, catUnsuitable, `\b(?:empfehle|empfehlen|wenden sie sich|wenden sich|verweise) (?:\w+ ){0,6}{praxis}|{praxis} (?:\w+ ){0,6}(?:empfehlen|empfehle)\b`, ""),
	p(kReason, catOther, `\b(?:reine |reinen )?privatpraxis\b|\b(?:keine|ohne) (?:\w+ )?(?:kassenzulassung|kassensitz|kv-?zulassung|kassenarztsitz)\b|\b(?:nur|ausschliesslich|lediglich) (?:\w+ ){0,2}(?:privat\w*|selbstzahler\w*|beihilfe\w*)|\bprivat taetig\b`, ""),
	p(kReason, catOther, `\bumzug\b|\bziehe (?:\w+ ){0,8}um\b|\bumorientier\w*|\bberuflich\w* (?:veraender\w*|neu (?:orientier|ausricht)\w*)|\b(?:kassenzulassung|kassensitz|zulassung|praxissitz) (?:\w+ ){0,3}(?:zurueckgeben|zurueckgebe|zurueck|ruhen)\b|\bpraxis (?:\w+ ){0,3}(?:verlegen|verlege|umziehen)\b|\bpraxistaetigkeit (?:\w+ ){0,4}reduzieren\b|\breduziere (?:\w+ ){0,3}(?:praxis|stunden|taetigkeit)\b`, ""),
	p(kReason, catOther, `\b(?:nur|ausschliesslich|lediglich) (?:\w+ ){0,2}(?:vormittags|nachmittags|abends|morgens|mittags|am wochenende)\b|\bzeitlich (?:\w+ ){0,3}(?:nicht|schwierig|unvereinbar)\b|\b(?:verfuegbarkeit|zeiten|zeitfenster) (?:\w+ ){0,4}(?:nicht|kein\w*) (?:\w+ ){0,2}(?:passen|passt|ueberein|zusammen|vereinbar)\b|\bterminlich nicht\b`, ""),
	p(kReason, catOther, `\b(?:entfernung|anfahrt\w*|zu weit)\b|\bbefangen\w*|\binteressenkonflikt\w*|\b(?:kenne|kennen) (?:\w+ ){0,3}(?:privat|persoenlich)\b|\b(?:privat\w*|persoenlich\w*) (?:\w+ ){0,2}(?:kenne|kennen|bekannt)\b|\b(?:privaten|persoenlichen) umfeld\b|\bbekanntenkreis\b|\b(?:sprachkenntnisse|deutschkenntnisse|dolmetscher\w*)\b`, ""),
}

// genericRejections say no without saying why.
var genericRejections = []phrase{
	p(kReject, catNone, `\b(?:absagen|absage|abzusagen|ablehnen|abzulehnen|abgelehnt|sage (?:\w+ ){0,4}ab|lehne (?:\w+ ){0,4}ab|muss (?:\w+ ){0,3}passen)\b`, ""),
	p(kReject, catNone, `\bnicht (?:\w+ ){0,2}(?:weiterhelfen|helfen|zur verfuegung)\b|\bnichts (?:\w+ )?(?:tun|machen)\b|\bsehe (?:\w+ ){0,5}keine (?:moeglichkeit|chance)\b|\b(?:can't|cannot|can not|unable to) (?:\w+ ){0,2}(?:take|accept|offer|help)\b`, ""),
	p(kReject, catNone, `(?:^|[:;,-] |^{label} )(?:leider )?(?:nein|no|nope)(?: leider| danke| sorry)?(?:[ ,.!;:]|$)|\bleider nicht\b`, ""),
}

// delays are read before the generic rejections: "leider nicht vor Juli"
// postpones an offer and rejects nothing.
var delays = []phrase{
	p(kHedge, 0, `\bnicht vor (?:dem |der |\w+ )?(?:\d|{month}|ende|anfang|mitte|naechst)|\berst (?:ab|im|in|nach|zum|zur|ende|anfang|mitte) `, ""),
}

// hedges and conditions weaken offers.
var hedges = []phrase{
	p(kHedge, 0, `\bnicht (?:\w+ )?(?:ausschliessen|ausgeschlossen)\b|\b(?:eventuell|evtl|vielleicht|moeglicherweise|unter umstaenden|u\.u\.|voraussichtlich|wahrscheinlich|vermutlich|ggf|gegebenenfalls|theoretisch|prinzipiell|grundsaetzlich|eigentlich|maybe|perhaps|possibly)\b`, ""),
	p(kCondition, 0, `\b(?:falls|sofern|wenn|vorausgesetzt|soweit|insofern|ob|wann|if)\b|\bunter der (?:voraussetzung|bedingung)\b`, ""),
}

// offers are what a place or an appointment looks like.
var offers = []phrase{
	offerPhrase(offerPlace, `{platz}|\b(?:place|slot|spot|opening)\b`),
	offerPhrase(offerVerb, `\b(?:erstgespraech\w*|erstgepraech\w*|kennenlerngespraech\w*|kennenlern-?termin\w*|vorgespraech\w*|probatorik|probatorische\w* sitzung\w*|sprechstunde(?:ntermin\w*)?|erste\w* gespraech|erste\w* termin)\b`),
	offerPhrase(offerVerb, `\btermin (?:am |fuer |ab )?(?:den |dem )?\d{1,2}\.|\btermin (?:\w+ ){0,2}anbieten\b|\bbiete (?:\w+ ){0,3}termin\w*|\bwillkommen\b|\b(?:kann|koennte|darf|moege) (?:\w+ ){0,4}(?:gerne |gern )(?:\w+ ){0,3}(?:kommen|vorbeikommen|anfangen|beginnen|starten)\b|\bsage (?:ich )?(?:\w+ )?zu\b|\bzusagen\b`),
}

// Verbs of taking someone on. First person forms stand alone ("Nehme ich
// gerne"); infinitives need an "ich" or "wir" in the clause ("kann ich
// aufnehmen"), so that "Bitte nehmen Sie meine Praxis aus dem Verteiler"
// offers nothing.
var (
	takeFirstPerson = regexp.MustCompile(`\b(?:nehme|nehm|uebernehme|behandle|betreue|nehme (?:\w+ ){0,3}auf)\b`)
	takeInfinitive  = regexp.MustCompile(`\b(?:nehmen|aufnehmen|aufzunehmen|uebernehmen|zu uebernehmen|behandeln|zu behandeln|unterbringen|unterzubringen|betreuen|einplanen|einschieben|annehmen|anzunehmen|take|accept|treat)\b`)
	firstPerson     = regexp.MustCompile(`\b(?:ich|wir|i|we)\b`)
)

// yes and the short forms of it ("#3301: gerne, …", "2301 – ja, …").
var yes = regexp.MustCompile(shorthand.Replace(`(?:^|[:;,(] ?|- |^{label} )(?:auch |ebenfalls |gleichfalls |hier auch |sehr )?(?:ja|jawohl|gerne|gern|ja gerne|ja,? gerne|klar|selbstverstaendlich|yes|sure)(?: gerne)?(?:[ ]?[,.!;:)]|$)`))

// treatVerb with a negation and a topic is "behandle ich nicht": not
// suitable ("Essstörungen behandle ich nicht", "Traumatherapie biete ich
// nicht an"). Without a topic ("Gesetzlich Versicherte kann ich nicht
// behandeln") it is a rejection whose reason must come from elsewhere.
var treatVerb = regexp.MustCompile(`\b(?:behandl\w*|therapier\w*|biete\w*|anbiet\w*|anzubieten|mache|mach|machen|betreue\w*|arbeite\w*|treat\w*|offer\w*)\b`)

// topics are methods and fields a therapist does or does not offer; with
// the symptom concepts they make a negated treatVerb mean "not suitable".
var topics = regexp.MustCompile(`\b(?:\w*therapie\w*|emdr|exposition\w*|kinder\w*|jugendlich\w*|erwachsen\w*|paar\w*|gruppe\w*|analyse\w*|akut\w*|krise\w*|sexual\w*|gutachten\w*|diagnostik\w*|verhaltensthera\w*|tiefenpsycholog\w*|schema\w*)\b`)

// lexicon is the order in which the tables are read.
var lexicon = [][]phrase{neutral, capacityShadow, undecided, thirdParty, rejections, reasons, delays, genericRejections, hedges, offers}

// negation marks a negated clause part.
var negation = regexp.MustCompile(shorthand.Replace(`{neg}|\b(?:not|no|never)\b`))
