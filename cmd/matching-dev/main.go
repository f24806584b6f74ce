// Command matching-dev runs the matching service on one machine and pokes
// at it. The Makefile's run, event, tail and follow-up-once targets call it.
//
//	matching-dev run [-keep]                      the whole service, until Ctrl-C
//	matching-dev event -type T -data JSON [-form envelope|cloudevent] [-key K]
//	matching-dev reply -anfrage N -text TEXT [-subject S]
//	matching-dev tail [-topic matching-events] [-from-beginning]
//	matching-dev follow-up [--dry-run] [--as-of YYYY-MM-DD]
//	matching-dev patient-update -id N -data JSON    (therapist-update likewise)
//
// run records the stack's addresses in .matching-dev.json (in the current
// directory), where the other commands find them; without a running stack,
// event and tail use KAFKA_BOOTSTRAP_SERVERS or 127.0.0.1:9092; reply needs
// the running stack.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/devstack"
)

const usage = `usage: matching-dev <command> [flags]

commands:
  run         start the whole matching service locally (make run)
  event       publish an event to the topic of its type (make event)
  reply       deliver a therapist's email reply to an anfrage (make reply)
  tail        follow matching-events in readable form (make tail)
  follow-up   run the follow-up job once against the running stack (make follow-up-once)
  patient-update, therapist-update
              change a record at the fake patient or therapist service, which
              publishes the event as the real one does (make patient-update)

"matching-dev <command> -h" shows the flags of a command.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"run":       run,
		"event":     event,
		"reply":     reply,
		"tail":      tail,
		"follow-up": followUp,

		"patient-update":   func(args []string) error { return update("patient", args) },
		"therapist-update": func(args []string) error { return update("therapist", args) },
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "matching-dev: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		var exit exitCode
		if errors.As(err, &exit) {
			os.Exit(int(exit))
		}
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintf(os.Stderr, "matching-dev %s: %v\n", os.Args[1], err)
			os.Exit(1)
		}
	}
}

// exitCode is an error that only carries a process exit status.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// runEnv is what run reads from the environment: the same variables the
// functions read, plus the API port of the seed.
type runEnv struct {
	DatabaseURL string         `envconfig:"DATABASE_URL"`
	Brokers     []string       `envconfig:"KAFKA_BOOTSTRAP_SERVERS"`
	APIPort     int            `envconfig:"MATCHING_SERVICE_INTERNAL_PORT" default:"8003"`
	Logging     config.Logging // LOG_LEVEL, LOG_FORMAT (text unless set)
	Matching    config.Matching
}

func (e *runEnv) Validate() error {
	if err := e.Logging.Validate(); err != nil {
		return err
	}
	return e.Matching.Validate()
}

func run(args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	keep := fs.Bool("keep", false, "keep the demo database's data from the last run instead of resetting it")
	neighboursPort := fs.Int("neighbours-port", 8010, "port of the fake neighbour services")
	functionsPort := fs.Int("functions-port", 8011, "first of the four ports of the functions' HTTP servers")
	kafkaPort := fs.Int("kafka-port", 9092, "port of the embedded Kafka broker")
	host := fs.String("host", "127.0.0.1", "interface every part listens on; 0.0.0.0 exposes the stack, whose event receivers and relay trigger take requests without authentication, to the network")
	state := fs.String("state", devstack.DefaultStateFile, "where to record the running stack for the other commands")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if os.Getenv("LOG_FORMAT") == "" {
		os.Setenv("LOG_FORMAT", "text")
	}
	var env runEnv
	if err := config.Load(&env); err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	opts := devstack.Options{
		DatabaseURL: env.DatabaseURL,
		// The database make run creates is the demo's own: it starts from
		// the demo state every time. A database named by DATABASE_URL is
		// never wiped; it is seeded only while it is empty.
		Reset:          env.DatabaseURL == "" && !*keep,
		Seed:           true,
		Brokers:        env.Brokers,
		Host:           *host,
		KafkaAddr:      net.JoinHostPort(*host, strconv.Itoa(*kafkaPort)),
		APIAddr:        net.JoinHostPort(*host, strconv.Itoa(env.APIPort)),
		NeighboursAddr: net.JoinHostPort(*host, strconv.Itoa(*neighboursPort)),
		FunctionsPort:  *functionsPort,
		Matching:       env.Matching,
		Logging:        env.Logging,
		StateFile:      *state,
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// A second Ctrl-C ends the process at once; a slow shutdown is bounded.
	go func() {
		<-ctx.Done()
		again := make(chan os.Signal, 1)
		signal.Notify(again, os.Interrupt, syscall.SIGTERM)
		select {
		case <-again:
			fmt.Fprintln(os.Stderr, "matching-dev: stopped hard")
		case <-time.After(30 * time.Second):
			fmt.Fprintln(os.Stderr, "matching-dev: shutdown took too long, stopped hard")
		}
		os.Exit(1)
	}()

	stack, err := devstack.Start(ctx, opts)
	if err != nil {
		return err
	}
	fmt.Print(stack.Banner())
	<-ctx.Done()
	fmt.Fprintln(os.Stderr, "\nmatching-dev: stopping…")
	stack.Stop()
	fmt.Fprintln(os.Stderr, "matching-dev: stopped")
	return nil
}

// brokers returns the running stack's brokers, else KAFKA_BOOTSTRAP_SERVERS,
// else the embedded broker's default address.
func brokers(state string) []string {
	if st, err := devstack.ReadState(state); err == nil {
		return st.Brokers
	}
	if v := os.Getenv("KAFKA_BOOTSTRAP_SERVERS"); v != "" {
		return strings.Split(v, ",")
	}
	return []string{"127.0.0.1:9092"}
}

func event(args []string) error {
	fs := flag.NewFlagSet("event", flag.ContinueOnError)
	typ := fs.String("type", "", "event type, e.g. patient.deleted (its prefix chooses the topic)")
	data := fs.String("data", "", `the payload as a JSON object, e.g. {"patient_id":3}`)
	form := fs.String("form", devstack.FormEnvelope, "envelope (the reference services' JSON record) or cloudevent (CloudEvents binary mode)")
	key := fs.String("key", "", "record key (default: the payload's first *_id field)")
	state := fs.String("state", devstack.DefaultStateFile, "the running stack's state file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *typ == "" || *data == "" {
		return errors.New(`TYPE and DATA are required: make event TYPE=patient.deleted DATA='{"patient_id":3}'`)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := devstack.Publish(ctx, brokers(*state), *typ, *data, *form, *key)
	if err != nil {
		if _, noStack := devstack.ReadState(*state); noStack != nil {
			return fmt.Errorf("%w\n%v", err, noStack)
		}
		return err
	}
	fmt.Printf("published %s to %s/%d@%d key=%s id=%s\n", *typ, p.Topic, p.Partition, p.Offset, p.Key, p.ID)
	return nil
}

func reply(args []string) error {
	fs := flag.NewFlagSet("reply", flag.ContinueOnError)
	anfrage := fs.Int64("anfrage", 0, "the anfrage whose email the therapist answers")
	text := fs.String("text", "", `the reply's body (\n is a line break)`)
	subject := fs.String("subject", "", `the reply's subject (default "AW: " and the email's subject)`)
	state := fs.String("state", devstack.DefaultStateFile, "the running stack's state file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *anfrage <= 0 || *text == "" {
		return errors.New(`ANFRAGE and TEXT are required: make reply ANFRAGE=2 TEXT='Person 1 nehme ich gern auf.'`)
	}
	st, err := devstack.ReadState(*state)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	p, err := devstack.Reply(ctx, st, *anfrage, *text, *subject)
	if err != nil {
		return err
	}
	fmt.Printf("published email.response_received to %s/%d@%d key=%s id=%s\n", p.Topic, p.Partition, p.Offset, p.Key, p.ID)
	return nil
}

func tail(args []string) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	topic := fs.String("topic", "matching-events", "topic to follow (e.g. matching-events-dlq, patient-events)")
	fromStart := fs.Bool("from-beginning", false, "also print what the topic already holds")
	state := fs.String("state", devstack.DefaultStateFile, "the running stack's state file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	b := brokers(*state)
	fmt.Fprintf(os.Stderr, "following %s on %s (Ctrl-C stops)\n", *topic, strings.Join(b, ","))
	return devstack.Tail(ctx, b, *topic, *fromStart, os.Stdout)
}

func followUp(args []string) error {
	st, err := devstack.ReadState(devstack.DefaultStateFile)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The flags (--dry-run, --as-of) belong to the follow-up function.
	err = devstack.FollowUpCommand(ctx, st, args).Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exitCode(exit.ExitCode())
	}
	return err
}

// update changes a patient or therapist at the running stack's fake
// neighbours with PUT /api/{kind}s/{id}, as staff would at the real
// service; the fake then publishes patient.updated (therapist.updated,
// .blocked, .unblocked) to its topic, as the real service does.
func update(kind string, args []string) error {
	fs := flag.NewFlagSet(kind+"-update", flag.ContinueOnError)
	id := fs.Int64("id", 0, "the "+kind+"'s id")
	data := fs.String("data", "", `the fields to change, as a JSON object, e.g. {"bevorzugtes_therapeutengeschlecht":"Weiblich"}`)
	state := fs.String("state", devstack.DefaultStateFile, "the running stack's state file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *id <= 0 || *data == "" {
		return fmt.Errorf("ID and DATA are required: make %s-update ID=7 DATA='{\"vorname\":\"Sophia\"}'", kind)
	}
	st, err := devstack.ReadState(*state)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	url := fmt.Sprintf("%s/api/%ss/%d", st.Neighbours, kind, *id)
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(*data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Printf("%s %d changed; the %s service published the event to %s-events\n", kind, *id, kind, kind)
	return nil
}
