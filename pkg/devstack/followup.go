package devstack

import (
	"context"
	"os"
	"os/exec"
	"strings"
)

// FollowUpPackage is the follow-up function the developer command runs.
const FollowUpPackage = "github.com/curavani/matching/functions/follow-up"

// FollowUpCommand returns the command that runs the follow-up job once
// against the running stack st: the follow-up function itself (go run), as
// the CronJob runs it, with args passed through (--dry-run, --as-of). It
// reads the stack's database and fake neighbours and publishes its events
// to the stack's broker; the business parameters (FOLLOW_UP_THRESHOLD_DAYS,
// …) come from the caller's environment.
func FollowUpCommand(ctx context.Context, st State, args []string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "go", append([]string{"run", FollowUpPackage}, args...)...)
	cmd.Env = FollowUpEnv(os.Environ(), st)
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	return cmd
}

// FollowUpEnv is environ with the stack's addresses: the database, the four
// neighbour URLs and the broker. K_SINK is dropped, so events go to the
// broker; LOG_FORMAT defaults to text.
func FollowUpEnv(environ []string, st State) []string {
	set := map[string]string{
		"DATABASE_URL":              st.DatabaseURL,
		"PATIENT_SERVICE_URL":       st.Neighbours,
		"THERAPIST_SERVICE_URL":     st.Neighbours,
		"COMMUNICATION_SERVICE_URL": st.Neighbours,
		"GEOCODING_SERVICE_URL":     st.Neighbours,
		"KAFKA_BOOTSTRAP_SERVERS":   strings.Join(st.Brokers, ","),
	}
	drop := map[string]bool{"K_SINK": true, "K_CE_OVERRIDES": true}
	var out []string
	hasFormat := false
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := set[name]; ok || drop[name] {
			continue
		}
		hasFormat = hasFormat || name == "LOG_FORMAT"
		out = append(out, kv)
	}
	for _, name := range []string{"DATABASE_URL", "PATIENT_SERVICE_URL", "THERAPIST_SERVICE_URL", "COMMUNICATION_SERVICE_URL", "GEOCODING_SERVICE_URL", "KAFKA_BOOTSTRAP_SERVERS"} {
		out = append(out, name+"="+set[name])
	}
	if !hasFormat {
		out = append(out, "LOG_FORMAT=text")
	}
	return out
}
