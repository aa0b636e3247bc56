package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/sethvargo/go-envconfig"
)

// The deployment examples: every variable the program reads (configVars)
// must appear in each, and no variable it does not read.
const (
	envExample    = "deploy/.env.example"
	k8sManifest   = "deploy/kubernetes.yaml"
	composeFile   = "deploy/compose.yaml"
	readmeFile    = "README.md"
	secretSection = "Secret"
	configSection = "ConfigMap"
)

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// isSecretVar reports whether a variable belongs in the Secret rather than
// the ConfigMap: its help says "(secret)", or it is the database URL,
// which carries a password.
func isSecretVar(v configVar) bool {
	return strings.Contains(v.help, "(secret)") || v.name == "DATABASE_URL"
}

// envKeys returns the NAME of every NAME=value line of a .env file,
// commented-out ones included (an optional variable is listed commented).
func envKeys(text string) []string {
	re := regexp.MustCompile(`(?m)^\s*#?\s*([A-Z][A-Z0-9_]*)=`)
	var out []string
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

// manifestKeys returns, by kind (Secret, ConfigMap), the keys of the data
// and stringData maps of a multi-document Kubernetes manifest, commented-out
// keys included.
func manifestKeys(text string) map[string][]string {
	out := map[string][]string{}
	key := regexp.MustCompile(`^  #?\s*([A-Z][A-Z0-9_]*):`)
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(text, -1) {
		kind := ""
		if m := regexp.MustCompile(`(?m)^kind:\s*(\S+)`).FindStringSubmatch(doc); m != nil {
			kind = m[1]
		}
		if kind != secretSection && kind != configSection {
			continue
		}
		inData := false
		for _, line := range strings.Split(doc, "\n") {
			switch {
			case line == "data:" || line == "stringData:":
				inData = true
			case line != "" && line[0] != ' ' && line[0] != '#':
				inData = false
			case inData:
				if m := key.FindStringSubmatch(line); m != nil {
					out[kind] = append(out[kind], m[1])
				}
			}
		}
	}
	return out
}

// readmeConfigKeys returns the variables of the README's generated
// configuration table.
func readmeConfigKeys(text string) []string {
	_, table, _ := strings.Cut(text, "<!-- BEGIN config -->")
	table, _, _ = strings.Cut(table, "<!-- END config -->")
	var out []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([A-Z][A-Z0-9_]*)` \\|").FindAllStringSubmatch(table, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestDeployExamplesListEveryVariable keeps the configuration honest: every
// variable the program reads is in .env.example, the README's table and the
// Kubernetes Secret (secrets, DATABASE_URL) or ConfigMap (the others), and
// none of those files, nor the compose file, names a variable of the
// program's families (SALESFORCE_…, ZENDESK_…, SLACK_…) that it does not
// read.
func TestDeployExamplesListEveryVariable(t *testing.T) {
	vars := configVars()
	known := map[string]bool{}
	families := map[string]bool{}
	for _, v := range vars {
		known[v.name] = true
		family, _, _ := strings.Cut(v.name, "_")
		families[family] = true
	}

	env := readFile(t, envExample)
	envNames := envKeys(env)
	manifest := manifestKeys(readFile(t, k8sManifest))
	readmeNames := readmeConfigKeys(readFile(t, readmeFile))
	for _, v := range vars {
		if !slices.Contains(envNames, v.name) {
			t.Errorf("%s does not list %s", envExample, v.name)
		}
		if !slices.Contains(readmeNames, v.name) {
			t.Errorf("the README's configuration table does not list %s (go test -run TestREADMETables -update)", v.name)
		}
		want, other := configSection, secretSection
		if isSecretVar(v) {
			want, other = secretSection, configSection
		}
		if !slices.Contains(manifest[want], v.name) {
			t.Errorf("%s: the %s example does not list %s", k8sManifest, want, v.name)
		}
		if slices.Contains(manifest[other], v.name) {
			t.Errorf("%s: %s belongs in the %s, not the %s", k8sManifest, v.name, want, other)
		}
	}
	for kind, names := range manifest {
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: the %s lists %s, which zdsync does not read", k8sManifest, kind, n)
			}
		}
	}

	// An uncommented empty value is set-but-empty: it disables a default.
	for _, m := range regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)=\s*$`).FindAllStringSubmatch(env, -1) {
		t.Errorf("%s sets %s to an empty value; comment it out instead", envExample, m[1])
	}

	word := regexp.MustCompile(`\b([A-Z][A-Z0-9]*)_[A-Z0-9_]*[A-Z0-9]\b`)
	for _, name := range []string{envExample, k8sManifest, composeFile, readmeFile} {
		for _, w := range word.FindAllStringSubmatch(readFile(t, name), -1) {
			if families[w[1]] && !known[w[0]] {
				t.Errorf("%s names %s, which zdsync does not read", name, w[0])
			}
		}
	}
}

// TestDeployExamplesAreValidConfiguration loads the uncommented values of
// .env.example, and of the ConfigMap and Secret together, as the program
// does: placeholders must still parse (numbers, durations).
func TestDeployExamplesAreValidConfiguration(t *testing.T) {
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^([A-Z][A-Z0-9_]*)=(.*)$`).FindAllStringSubmatch(readFile(t, envExample), -1) {
		env[m[1]] = m[2]
	}
	k8s := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  ([A-Z][A-Z0-9_]*): (.*)$`).FindAllStringSubmatch(readFile(t, k8sManifest), -1) {
		v := strings.TrimSpace(m[2])
		if u, err := strconv.Unquote(v); err == nil {
			v = u
		}
		k8s[m[1]] = v
	}
	for name, vals := range map[string]map[string]string{envExample: env, k8sManifest: k8s} {
		if _, err := LoadConfig(t.Context(), envconfig.MapLookuper(vals)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if !strings.HasPrefix(vals["DATABASE_URL"], "postgres://") {
			t.Errorf("%s: DATABASE_URL = %q, want Postgres (several replicas)", name, vals["DATABASE_URL"])
		}
	}
}

func TestDeployParsers(t *testing.T) {
	m := manifestKeys("kind: ConfigMap\ndata:\n  A_B: \"1\"\n  # C_D: \"2\"\n  # a comment: not a key\n---\nkind: Secret\n" +
		"stringData:\n  E_F: x\nmetadata:\n  G_H: y\n---\nkind: Deployment\ndata:\n  I_J: z\n")
	if !slices.Equal(m[configSection], []string{"A_B", "C_D"}) || !slices.Equal(m[secretSection], []string{"E_F"}) || len(m) != 2 {
		t.Errorf("manifestKeys = %v", m)
	}
	if got := envKeys("A_B=1\n# C_D=2\n# a comment=3\nexport_x=4\n"); !slices.Equal(got, []string{"A_B", "C_D"}) {
		t.Errorf("envKeys = %v", got)
	}
	if got := readmeConfigKeys("| `X_Y` | 1 |\n<!-- BEGIN config -->\n| `A_B` | | a |\n<!-- END config -->\n"); !slices.Equal(got, []string{"A_B"}) {
		t.Errorf("readmeConfigKeys = %v", got)
	}
}
