package manifests

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	batchv1 "k8s.io/api/batch/v1"

	sourcesv1 "knative.dev/eventing/pkg/apis/sources/v1"
)

// Check is one cross-check over the whole build.
type Check struct {
	Name string
	Run  func(s *Set, r *Repo) []error
}

// Checks are every cross-check, in the order they are reported.
var Checks = []Check{
	{"ko images are function mains", checkImages},
	{"every function main is deployed", checkMainsDeployed},
	{"references resolve", checkReferences},
	{"envelope triggers match their KafkaSources", checkEnvelopeTriggers},
	{"trigger types are event types the code knows", checkTriggerTypes},
	{"KafkaSources read the seed's topics with its consumer groups", checkKafkaSources},
	{"Kafka addresses and topics belong to the Strimzi cluster", checkKafkaWiring},
	{"env vars are ones the functions read", checkEnv},
	{"credentials come only through secretKeyRef", checkCredentials},
	{"schedules parse and jobs are bounded", checkSchedules},
	{"pods meet the restricted security profile", checkPodSecurity},
	{"every function has NetworkPolicies for what it needs", checkNetworkPolicies},
	{"Knative Services probe health and hide event handlers", checkKnativeServices},
}

// Validate builds nothing: it decodes a rendered YAML stream, validates every
// object and runs every check, returning all problems found.
func Validate(ctx context.Context, stream []byte, repo *Repo, crds *CRDSchemas) []error {
	objs, errs := DecodeAll(ctx, stream, crds)
	s := NewSet(objs)
	for _, c := range Checks {
		errs = append(errs, c.Run(s, repo)...)
	}
	return errs
}

const koPrefix = "ko://"

// checkImages: a ko:// image must name a package main under functions/ of
// this module; any other image must be pinned by tag or digest.
func checkImages(s *Set, r *Repo) []error {
	var errs []error
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			switch {
			case c.Image == "":
				errs = append(errs, fmt.Errorf("%s container %q: no image", w.owner, c.Name))
			case strings.HasPrefix(c.Image, koPrefix):
				path := strings.TrimPrefix(c.Image, koPrefix)
				if !strings.HasPrefix(path, r.Module+"/functions/") {
					errs = append(errs, fmt.Errorf("%s container %q: %s is not under %s/functions/", w.owner, c.Name, c.Image, r.Module))
				} else if !r.Mains[path] {
					errs = append(errs, fmt.Errorf("%s container %q: %s is not a package main in this repository", w.owner, c.Name, c.Image))
				}
			default:
				name := c.Image[strings.LastIndex(c.Image, "/")+1:]
				if !strings.Contains(name, "@sha256:") && (!strings.Contains(name, ":") || strings.HasSuffix(name, ":latest")) {
					errs = append(errs, fmt.Errorf("%s container %q: image %s is not pinned to a version", w.owner, c.Name, c.Image))
				}
			}
		}
	}
	return errs
}

// checkMainsDeployed: every package main under functions/ is the ko://
// image of some workload of the build, so that a new function (a job like
// directory-sync, a handler) cannot ship without the object that runs it.
func checkMainsDeployed(s *Set, r *Repo) []error {
	deployed := map[string]bool{}
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			deployed[strings.TrimPrefix(c.Image, koPrefix)] = true
		}
	}
	var errs []error
	for _, main := range sortedKeys(r.Mains) {
		if !deployed[main] {
			errs = append(errs, fmt.Errorf("%s is run by no workload of the build (give it a Knative Service, Job or CronJob)", main))
		}
	}
	return errs
}

var varRef = regexp.MustCompile(`\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)

// checkEnv: every variable a function container gets (env, and the keys of
// envFrom ConfigMaps and Secrets) is one the code reads. A variable that only
// feeds another one through $(NAME) (the parts of DATABASE_URL) is allowed.
func checkEnv(s *Set, r *Repo) []error {
	var errs []error
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			if !strings.HasPrefix(c.Image, koPrefix) {
				continue
			}
			referenced := map[string]bool{}
			for _, e := range c.Env {
				for _, m := range varRef.FindAllStringSubmatch(e.Value, -1) {
					referenced[m[1]] = true
				}
			}
			check := func(name, from string) {
				if _, ok := r.EnvVars[name]; ok || referenced[name] {
					return
				}
				errs = append(errs, fmt.Errorf("%s container %q: %s%s is read by no function (not in config/, functions/ or pkg/)", w.owner, c.Name, name, from))
			}
			for _, e := range c.Env {
				check(e.Name, "")
			}
			for _, f := range c.EnvFrom {
				var o Object
				var ok bool
				switch {
				case f.ConfigMapRef != nil:
					o, ok = s.get("", "ConfigMap", w.ns, f.ConfigMapRef.Name)
				case f.SecretRef != nil:
					o, ok = s.get("", "Secret", w.ns, f.SecretRef.Name)
				}
				if !ok {
					continue
				}
				for _, k := range dataKeys(o) {
					check(f.Prefix+k, fmt.Sprintf(" (from %s)", o))
				}
			}
		}
	}
	return errs
}

// secretName is what an env var or ConfigMap key carrying a secret is
// called. DATABASE_URL holds the database password.
var secretName = regexp.MustCompile(`(?i)PASSWORD|PASSWD|TOKEN|SECRET|CREDENTIAL|API_KEY|DATABASE_URL`)

// checkCredentials: secrets reach containers only through secretKeyRef (or
// envFrom of a Secret): no literal value in an env var named like a secret,
// no password written into a URL, no secret-looking key in a ConfigMap.
func checkCredentials(s *Set, _ *Repo) []error {
	var errs []error
	for _, w := range workloads(s) {
		for _, c := range containers(w.spec) {
			fromSecret := map[string]bool{}
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					fromSecret[e.Name] = true
				}
			}
			for _, e := range c.Env {
				if secretName.MatchString(e.Name) && !fromSecret[e.Name] {
					errs = append(errs, fmt.Errorf("%s container %q: %s must come from a secretKeyRef", w.owner, c.Name, e.Name))
				}
				if !strings.Contains(e.Value, "://") {
					continue
				}
				u, err := url.Parse(e.Value)
				if err != nil || u.User == nil {
					continue
				}
				pw, has := u.User.Password()
				if !has {
					continue
				}
				m := varRef.FindStringSubmatch(pw)
				if m == nil || m[0] != pw || !fromSecret[m[1]] {
					errs = append(errs, fmt.Errorf("%s container %q: %s carries a password that is not $(VAR) of a secretKeyRef variable", w.owner, c.Name, e.Name))
				}
			}
		}
	}
	for _, o := range ofKind(s, "", "ConfigMap") {
		for _, k := range dataKeys(o) {
			if secretName.MatchString(k) {
				errs = append(errs, fmt.Errorf("%s: key %s looks like a secret; put it in a Secret", o, k))
			}
		}
	}
	return errs
}

// checkSchedules: CronJob schedules parse as standard cron and their time
// zones load; CronJobs never overlap, start late only within a deadline and
// give up after a few tries and a bounded time; Jobs are bounded as well.
func checkSchedules(s *Set, _ *Repo) []error {
	var errs []error
	bounded := func(owner string, spec batchv1.JobSpec) {
		if spec.BackoffLimit == nil || *spec.BackoffLimit > 6 {
			errs = append(errs, fmt.Errorf("%s: set a small backoffLimit (at most 6)", owner))
		}
		if spec.ActiveDeadlineSeconds == nil {
			errs = append(errs, fmt.Errorf("%s: set activeDeadlineSeconds", owner))
		}
	}
	for _, o := range s.Objects {
		switch t := o.Typed.(type) {
		case *batchv1.CronJob:
			if _, err := cron.ParseStandard(t.Spec.Schedule); err != nil {
				errs = append(errs, fmt.Errorf("%s: schedule %q: %w", o, t.Spec.Schedule, err))
			}
			if t.Spec.TimeZone == nil {
				errs = append(errs, fmt.Errorf("%s: set timeZone (the schedule is otherwise the controller's local time)", o))
			} else if _, err := time.LoadLocation(*t.Spec.TimeZone); err != nil {
				errs = append(errs, fmt.Errorf("%s: timeZone %q: %w", o, *t.Spec.TimeZone, err))
			}
			if t.Spec.ConcurrencyPolicy != batchv1.ForbidConcurrent {
				errs = append(errs, fmt.Errorf("%s: concurrencyPolicy %q, want Forbid", o, t.Spec.ConcurrencyPolicy))
			}
			if t.Spec.StartingDeadlineSeconds == nil {
				errs = append(errs, fmt.Errorf("%s: set startingDeadlineSeconds", o))
			}
			bounded(o.String(), t.Spec.JobTemplate.Spec)
		case *batchv1.Job:
			bounded(o.String(), t.Spec)
		case *sourcesv1.PingSource:
			if _, err := cron.ParseStandard(t.Spec.Schedule); err != nil {
				errs = append(errs, fmt.Errorf("%s: schedule %q: %w", o, t.Spec.Schedule, err))
			}
		}
	}
	return errs
}
