package campaign

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/curavani/matching/config"
	"github.com/curavani/matching/pkg/api"
	"github.com/curavani/matching/pkg/handlers"
	"github.com/curavani/matching/pkg/runtime"
)

// ChildEnv names the function a re-executed campaign binary runs instead of
// the campaign (see RunChildIfAsked).
const ChildEnv = "MATCHING_CAMPAIGN_FUNCTION"

// RunChildIfAsked runs the function ChildEnv names, configured by the
// environment exactly as its main in functions/ is, and exits with the
// main's exit code; without ChildEnv it returns. The campaign's command and
// its test call it first, so the campaign can start every function as a
// process of its own, and kill it, by executing itself.
func RunChildIfAsked() {
	name := os.Getenv(ChildEnv)
	if name == "" {
		return
	}
	if err := runChild(name); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild is the body of the main of function name (functions/<name>).
func runChild(name string) error {
	ctx := context.Background()
	switch name {
	case handlers.PatientDeletedName, handlers.TherapistBlockedName, handlers.CommunicationEventsName:
		var cfg handlers.Spec
		if err := config.Load(&cfg); err != nil {
			return err
		}
		fns := map[string]runtime.EventFunction{}
		for _, c := range handlers.Consumers(cfg.Copy) {
			fns[c.Name] = c
		}
		return runtime.Run(ctx, fns[name], runtime.Options{Config: cfg.Common})
	case handlers.OutboxRelayName:
		var cfg struct {
			handlers.Spec
			Relay handlers.RelaySettings
		}
		if err := config.Load(&cfg); err != nil {
			return err
		}
		return runtime.Run(ctx, handlers.OutboxRelay(cfg.Relay, cfg.Copy), runtime.Options{Config: cfg.Common})
	case api.FunctionName:
		var cfg struct {
			config.Common
			api.Settings
		}
		if err := config.Load(&cfg); err != nil {
			return err
		}
		return runtime.Run(ctx, api.Function(cfg.Settings), runtime.Options{Config: cfg.Common})
	}
	return fmt.Errorf("no function %q", name)
}

// proc is one function run as a child process of the campaign, on a fixed
// port it keeps across restarts.
type proc struct {
	// label tells two processes of one function apart ("patient-deleted
	// (kafka)", "… (http)").
	label, function string
	port            int
	env             []string
	exe, logPath    string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// starts counts the processes started (1 + restarts).
	starts int
}

// URL is the base URL of the function's HTTP server.
func (p *proc) URL() string { return fmt.Sprintf("http://127.0.0.1:%d", p.port) }

// start starts the process and waits until it answers its readiness probe.
func (p *proc) start(ctx context.Context) error {
	p.mu.Lock()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	cmd := exec.Command(p.exe)
	cmd.Env = append(append(os.Environ(), ChildEnv+"="+p.function, fmt.Sprintf("PORT=%d", p.port)), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		p.mu.Unlock()
		return fmt.Errorf("start %s: %w", p.label, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	p.cmd, p.done = cmd, done
	p.starts++
	p.mu.Unlock()
	return waitReady(ctx, p.URL()+"/health/readiness", done, p.label)
}

// kill sends SIGKILL (mid-work: nothing drains) and waits until it died.
func (p *proc) kill() { p.signal(syscall.SIGKILL) }

// stop sends SIGTERM (drain) and waits until it ended.
func (p *proc) stop() { p.signal(syscall.SIGTERM) }

func (p *proc) signal(sig syscall.Signal) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(40 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// waitReady polls url until it answers 200; it gives up when died closes
// or after two minutes (a restart waits for a database that is down).
func waitReady(ctx context.Context, url string, died <-chan struct{}, label string) error {
	c := &http.Client{Timeout: time.Second}
	deadline := time.After(2 * time.Minute)
	for {
		if resp, err := c.Get(url); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-died:
			return fmt.Errorf("%s exited while starting; see its log", label)
		case <-deadline:
			return fmt.Errorf("%s not ready after two minutes", label)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// logPathOf is where process label writes its output in dir.
func logPathOf(dir, label string) string { return filepath.Join(dir, label+".log") }
