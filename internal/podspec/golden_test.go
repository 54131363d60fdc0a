package podspec

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kf-run/kf-run/internal/corpus"
	"github.com/kf-run/kf-run/internal/pipelinespec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden files")

// representative is a settings set that touches every kind of setting:
// pipeline-wide settings, and an override for one task.
func representative(task string) Pod {
	return Pod{
		Caching: boolPtr(false),
		Settings: Settings{
			NodeSelector:     map[string]string{"cloud.google.com/gke-nodepool": "cpu"},
			Tolerations:      []Toleration{{Key: "dedicated", Operator: "Equal", Value: "ml", Effect: "NoSchedule"}},
			Labels:           map[string]string{"team": "ml"},
			Annotations:      map[string]string{"owner": "ci"},
			ImagePullSecrets: []string{"regcred"},
			Secrets: []Source{
				{Name: "db-creds", Env: map[string]string{"DB_USER": "user", "DB_PASSWORD": "password"}},
				{Name: "tls", MountPath: "/etc/tls", Optional: boolPtr(true)},
			},
			ConfigMaps: []Source{{Name: "settings", Env: map[string]string{"LOG_LEVEL": "log-level"}, MountPath: "/etc/settings"}},
			PVCs:       []PVC{{Name: "data", MountPath: "/data", SubPath: "train"}},
			Requests:   map[string]string{"cpu": "500m", "memory": "1Gi"},
			Limits:     map[string]string{"cpu": "2", "memory": "4Gi"},
		},
		Tasks: map[string]Settings{task: {
			NodeSelector: map[string]string{"cloud.google.com/gke-nodepool": "gpu"},
			Tolerations:  []Toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}},
			Affinity: NodeAffinity{
				Required:  []NodeSelectorTerm{{MatchExpressions: []Requirement{{Key: "topology.kubernetes.io/zone", Operator: "In", Values: []string{"a", "b"}}}}},
				Preferred: []PreferredTerm{{Weight: 50, Preference: NodeSelectorTerm{MatchExpressions: []Requirement{{Key: "gpu-class", Operator: "Exists"}}}}},
			},
			Limits: map[string]string{"memory": "16Gi", "nvidia.com/gpu": "2"},
		}},
	}
}

// TestCorpusGolden applies the representative settings to every valid
// pipeline of the corpus. The golden files hold what changed: the era, the
// executors' resources, the platform spec and the tasks' caching options.
// Everything else must come back untouched, unknown fields included.
func TestCorpusGolden(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"kfp-sdk-2.4/pipelines", "kfp-sdk-2.17/valid"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			root := corpus.Dir(t, dir)
			entries, err := os.ReadDir(root)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			for _, e := range entries {
				if !strings.HasSuffix(e.Name(), ".yaml") && !strings.HasSuffix(e.Name(), ".json") {
					continue
				}
				orig, err := pipelinespec.Load(filepath.Join(root, e.Name()))
				if err != nil {
					t.Errorf("%s: %v", e.Name(), err)
					continue
				}
				ix := newIndex(orig.Pipeline)
				if len(ix.containers) == 0 {
					out.WriteString("# " + e.Name() + ": no container executors\n")
					continue
				}
				got, err := Apply(orig, representative(ix.containers[0]))
				if err != nil {
					t.Errorf("%s: %v", e.Name(), err)
					continue
				}
				checkUntouched(t, e.Name(), orig, got)
				out.WriteString(summary(t, e.Name(), got))
			}
			golden := filepath.Join("testdata", strings.ReplaceAll(dir, "/", "_")+".golden")
			if *update {
				if err := os.WriteFile(golden, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), out.String()); diff != "" {
				t.Errorf("%s (-want +got):\n%s", golden, diff)
			}
		})
	}
}

// checkUntouched compares got with orig after removing what Apply may
// write, so any other change (a dropped unknown field) shows.
func checkUntouched(t *testing.T, name string, orig, got *pipelinespec.Spec) {
	t.Helper()
	strip := func(s *pipelinespec.Spec) map[string]any {
		c := s.Clone()
		ix := newIndex(c.Pipeline)
		for _, e := range ix.containers {
			delete(dig(ix.executors, e, "container").(map[string]any), "resources")
		}
		for _, task := range ix.allTasks {
			delete(task, "cachingOptions")
		}
		return c.Pipeline
	}
	if diff := cmp.Diff(strip(orig), strip(got)); diff != "" {
		t.Errorf("%s: Apply changed more than resources and caching (-want +got):\n%s", name, diff)
	}
	// The file's own platform settings are all still there.
	for label, cfg := range platformExecutors(orig) {
		for k, v := range cfg.(map[string]any) {
			if _, ok := platformExecutors(got)[label].(map[string]any)[k]; !ok {
				t.Errorf("%s: platform %s.%s was dropped (was %v)", name, label, k, v)
			}
		}
	}
}

func platformExecutors(s *pipelinespec.Spec) map[string]any {
	m, _ := dig(s.Platform, "platforms", "kubernetes", "deploymentSpec", "executors").(map[string]any)
	return m
}

// summary writes what Apply wrote to s as YAML. Executors with the same
// resources or platform config are listed together, to keep it short.
func summary(t *testing.T, name string, s *pipelinespec.Spec) string {
	t.Helper()
	ix := newIndex(s.Pipeline)
	group := func(labels []string, get func(string) any) map[string]any {
		byValue, order := map[string][]string{}, []string{}
		values := map[string]any{}
		for _, l := range labels {
			v := get(l)
			b, _ := json.Marshal(v)
			k := string(b)
			if _, ok := byValue[k]; !ok {
				order = append(order, k)
				values[k] = v
			}
			byValue[k] = append(byValue[k], l)
		}
		out := map[string]any{}
		for _, k := range order {
			out[strings.Join(byValue[k], " ")] = values[k]
		}
		return out
	}
	resources := group(ix.containers, func(e string) any { return dig(ix.executors, e, "container", "resources") })
	pe := platformExecutors(s)
	platform := group(slices.Sorted(maps.Keys(pe)), func(e string) any { return pe[e] })
	caching := map[string]any{}
	for _, task := range ix.allTasks {
		caching[str(dig(task, "taskInfo", "name"))] = task["cachingOptions"]
	}
	era := map[Era]string{Era2: "2.0-2.9", Era210: "2.10+"}[EraOf(s)]
	view := &pipelinespec.Spec{Path: name, Pipeline: map[string]any{
		"era": era, "sdkVersion": s.SDKVersion, "resources": resources, "platform": platform, "cachingOptions": caching,
	}}
	b, err := view.YAML()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return "# " + name + "\n" + string(b)
}
