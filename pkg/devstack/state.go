package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// DefaultStateFile is where `matching-dev run` records the running stack,
// relative to the repository root (gitignored).
const DefaultStateFile = ".matching-dev.json"

// State is what the developer commands need to find a running stack.
type State struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// API is the anfrage API's base URL (without /api).
	API string `json:"api"`
	// Neighbours is the base URL of the four fake neighbour services.
	Neighbours string `json:"neighbours"`
	// Brokers are the Kafka bootstrap servers.
	Brokers []string `json:"kafka_bootstrap_servers"`
	// DatabaseURL is matching's database.
	DatabaseURL string `json:"database_url"`
	// Functions maps each event function to the base URL of its HTTP server.
	Functions map[string]string `json:"functions"`
}

// State describes the running stack.
func (s *Stack) State() State {
	fns := map[string]string{}
	for name, f := range s.fns {
		fns[name] = f.URL()
	}
	return State{
		PID:         os.Getpid(),
		Started:     time.Now().UTC().Truncate(time.Second),
		API:         s.APIURL,
		Neighbours:  s.NeighboursURL,
		Brokers:     s.Brokers,
		DatabaseURL: s.DatabaseURL,
		Functions:   fns,
	}
}

// WriteState writes st to path, readable by the owner only (the database
// URL may hold a password).
func WriteState(path string, st State) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// RemoveState removes the state file if it still describes this process
// (a second make run may have replaced it).
func RemoveState(path string) {
	if st, err := readState(path); err == nil && st.PID == os.Getpid() {
		_ = os.Remove(path)
	}
}

// ErrNoStack is returned by ReadState when no stack is running.
var ErrNoStack = errors.New("no running stack found: start one with `make run` (in another terminal)")

// ReadState reads the state file of a running stack. A file left behind by
// a process that is gone counts as no stack.
func ReadState(path string) (State, error) {
	st, err := readState(path)
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, ErrNoStack
	}
	if err != nil {
		return State{}, err
	}
	if alive := st.PID > 0 && !errors.Is(syscall.Kill(st.PID, 0), syscall.ESRCH); !alive {
		return State{}, fmt.Errorf("%w (%s is left from process %d, which is gone)", ErrNoStack, path, st.PID)
	}
	return st, nil
}

func readState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	return st, nil
}
