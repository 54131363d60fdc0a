package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	kfpcron "github.com/robfig/cron" // v1.2.0: the very parser KFP validates with
)

func TestKFPCron(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want, err string
	}{
		{in: "0 2 * * *", want: "0 0 2 * * *"},
		{in: "  30  3 * * 1-5 ", want: "0 30 3 * * 1-5"},
		{in: "*/15 * * * *", want: "0 */15 * * * *"},
		{in: "0 0 2 * * *", want: "0 0 2 * * *"},
		{in: "*/5 * * * * *", want: "*/5 * * * * *"},
		{in: "0 0 3 1 JAN,JUL ?", want: "0 0 3 1 JAN,JUL ?"},
		{in: "0 3 * * MON", want: "0 0 3 * * MON"},
		{in: "@daily", want: "@daily"},
		{in: "@hourly", want: "@hourly"},
		{in: "@every 1h30m", want: "@every 1h30m"},
		{in: "@every  10s", want: "@every 10s"},
		{in: "CRON_TZ=Europe/Paris 0 2 * * *", err: "KFP has no per-schedule time zone"},
		{in: "TZ=UTC 0 2 * * *", err: "cronScheduleTimezone"},
		{in: "0 2 * *", err: "has 4 fields"},
		{in: "0 0 2 * * * 2025", err: "has 7 fields"},
		{in: "61 2 * * *", err: "61"},
		{in: "0 25 * * *", err: "25"},
		{in: "@weekdays", err: "@weekdays"},
		{in: "@every 1x", err: "@every 1x"},
		{in: "0 2 * * FOO", err: "FOO"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := KFPCron(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("KFPCron(%q) = %q, %v; want an error with %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("KFPCron(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

// What kf-run sends, KFP accepts, and it fires when the standard 5-field
// cron says: KFP's own parser (robfig/cron v1.2.0 cron.Parse) reads the
// converted expression as the standard one means it. And what KFP's parser
// refuses, kf-run refuses before sending.
func TestKFPCronAgreesWithKFP(t *testing.T) {
	t.Parallel()
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		next []time.Time
	}{
		{"0 2 * * *", []time.Time{from.Add(2 * time.Hour), from.Add(26 * time.Hour)}},
		{"30 3 * * 1", []time.Time{time.Date(2025, 3, 3, 3, 30, 0, 0, time.UTC), time.Date(2025, 3, 10, 3, 30, 0, 0, time.UTC)}},
		{"*/20 * * * *", []time.Time{from.Add(20 * time.Minute), from.Add(40 * time.Minute)}},
		{"0 0 1 * *", []time.Time{time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)}},
		{"15 0 2 * * *", []time.Time{from.Add(2*time.Hour + 15*time.Second), from.Add(26*time.Hour + 15*time.Second)}},
		{"@daily", []time.Time{from.Add(24 * time.Hour), from.Add(48 * time.Hour)}},
		{"@every 6h", []time.Time{from.Add(6 * time.Hour), from.Add(12 * time.Hour)}},
	} {
		got, err := KFPCron(tc.in)
		if err != nil {
			t.Errorf("KFPCron(%q): %v", tc.in, err)
			continue
		}
		s, err := kfpcron.Parse(got)
		if err != nil {
			t.Errorf("KFP's parser refuses %q (from %q): %v", got, tc.in, err)
			continue
		}
		var next []time.Time
		for t := from; len(next) < 2; {
			t = s.Next(t)
			next = append(next, t)
		}
		if diff := cmp.Diff(tc.next, next); diff != "" {
			t.Errorf("%q → %q fires (-want +got):\n%s", tc.in, got, diff)
		}
	}
	// KFP's parser refuses these: so does kf-run, before sending.
	for _, bad := range []string{"CRON_TZ=UTC 0 0 2 * * *", "TZ=UTC 0 0 2 * * *", "0 0 2 * * * *", "0 0 25 * * *", "@yearly-ish", "@every 1x", "0 0 2 * * FOO", "a b c d e f"} {
		if _, err := kfpcron.Parse(bad); err == nil {
			t.Errorf("KFP's parser takes %q: the test's premise is wrong", bad)
		}
		if got, err := KFPCron(bad); err == nil {
			t.Errorf("KFPCron(%q) = %q, want an error (KFP refuses it)", bad, got)
		}
	}
}

func TestScheduleConfig(t *testing.T) {
	t.Parallel()
	env := func(string) (string, bool) { return "", false }
	const head = "pipelines:\n  - name: train\n    spec: p.yaml\n    schedule:\n"
	t.Run("defaults", func(t *testing.T) {
		t.Parallel()
		c, err := Parse("kf-run.yaml", []byte(head+"      cron: \"0 2 * * *\"\n"), env)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Pipelines[0].Schedule
		if s.KFPCron != "0 0 2 * * *" || s.MaxRuns() != 1 || !s.IsEnabled() || !s.NoCatchup() || s.Line != 5 {
			t.Errorf("schedule %+v: want cron 0 0 2 * * *, max 1, enabled, no catchup, line 5", s)
		}
	})
	t.Run("all keys", func(t *testing.T) {
		t.Parallel()
		c, err := Parse("kf-run.yaml", []byte(head+`      every: 6h
      max_concurrency: 3
      catchup: true
      start: 2025-01-01
      end: 2025-06-30T12:00:00+02:00
      enabled: false
      parameters: {epochs: 1}
      pod: {node_selector: {pool: cpu}}
`), env)
		if err != nil {
			t.Fatal(err)
		}
		s := c.Pipelines[0].Schedule
		if s.Interval != 6*time.Hour || s.MaxRuns() != 3 || s.IsEnabled() || s.NoCatchup() ||
			!s.StartTime.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) || !s.EndTime.Equal(time.Date(2025, 6, 30, 10, 0, 0, 0, time.UTC)) ||
			s.Parameters["epochs"].V != 1 || s.Pod.NodeSelector["pool"] != "cpu" {
			t.Errorf("schedule %+v", s)
		}
	})
	for _, tc := range []struct{ name, body, want string }{
		{"CRON_TZ refused at its line", "      max_concurrency: 2\n      cron: \"CRON_TZ=Europe/Paris 0 2 * * *\"\n",
			"kf-run.yaml:6: pipelines[0].schedule.cron: \"CRON_TZ=Europe/Paris 0 2 * * *\": KFP has no per-schedule time zone (CRON_TZ=, TZ=): KFP reads every schedule in the time zone of the cluster's scheduled-workflow controller (pipeline-install-config's cronScheduleTimezone, UTC by default), one for the whole cluster; write the cron in that time zone"},
		{"both triggers", "      cron: \"@daily\"\n      every: 1h\n", "kf-run.yaml:6: pipelines[0].schedule: cron and every exclude each other"},
		{"no trigger", "      enabled: true\n", "kf-run.yaml:5: pipelines[0].schedule: set cron"},
		{"max_concurrency", "      every: 1h\n      max_concurrency: 11\n", "kf-run.yaml:6: pipelines[0].schedule.max_concurrency: 11: KFP takes 1 to 10"},
		{"max_concurrency 0", "      every: 1h\n      max_concurrency: 0\n", "kf-run.yaml:6: pipelines[0].schedule.max_concurrency: 0"},
		{"every", "      every: 1500ms\n", "kf-run.yaml:5: pipelines[0].schedule.every: 1500ms: KFP counts whole seconds"},
		{"start", "      every: 1h\n      start: tomorrow\n", "kf-run.yaml:6: pipelines[0].schedule.start: \"tomorrow\" is not an RFC 3339 time"},
		{"end before start", "      every: 1h\n      start: 2025-02-01\n      end: 2025-01-01\n", "kf-run.yaml:7: pipelines[0].schedule.end: 2025-01-01 is not after start"},
		{"unknown key", "      every: 1h\n      timezone: Europe/Paris\n", "kf-run.yaml:6: unknown key \"timezone\" in pipelines[0].schedule"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("kf-run.yaml", []byte(head+tc.body), env)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n got %v\nwant %s", err, tc.want)
			}
		})
	}
	t.Run("secret in a schedule parameter", func(t *testing.T) {
		t.Parallel()
		env := func(k string) (string, bool) { return "s3cr3t-value", k == "API_TOKEN" }
		_, err := Parse("kf-run.yaml", []byte(head+"      every: 1h\n      parameters: {token: \"${API_TOKEN}\"}\n"), env)
		if err == nil || !strings.Contains(err.Error(), "kf-run.yaml:6: parameter token takes ${API_TOKEN}, a secret") {
			t.Fatalf("error: %v", err)
		}
	})
}
