// Package completion writes shell completion scripts for bash, zsh and fish
// from a description of a program's command line: its commands, each
// command's flags and what a flag's value can be. It knows no kf-run
// command: the caller describes them from the flag sets the commands parse,
// so a new flag or command is completed without a change here.
//
// A script completes from what it holds, without starting the program,
// except for a flag whose values only the program can know (a config's
// pipeline names): for those it runs the program with the arguments the
// flag names and offers the lines it prints. This package runs nothing and
// reads no file itself.
package completion

import (
	"fmt"
	"slices"
	"strings"
)

// Program is what a script completes: the program's name as users type it,
// the flags it takes before any command, and its commands.
type Program struct {
	Name     string
	Flags    []Flag
	Commands []Command
}

// Command is one command. Name is its words as typed ("run", "schedule
// sync"): the words before the last are offered on their way to it.
type Command struct {
	Name  string
	Flags []Flag
	// Args are the words its first argument can be (the shells of
	// "completion"); none: its arguments are not completed.
	Args []string
}

// Flag is one flag, written --Name.
type Flag struct {
	Name string
	// Usage is one line that zsh and fish show beside the flag.
	Usage string
	// Bool says the flag takes no value.
	Bool bool
	// What a value completes to: Words, else files when Files, else the
	// lines of Query, else nothing (a value is typed, not completed).
	Words []string
	Files bool
	Query *Query
}

// Query asks the program for a flag's values: the script runs it with Args,
// and with --F VALUE for each flag F of Pass given earlier on the line
// (--config, so the names come from the config the line names).
type Query struct {
	Args []string
	Pass []string
}

// Shells are the shells Script writes for.
func Shells() []string { return []string{"bash", "zsh", "fish"} }

// Script is the completion script for shell, one of Shells.
func Script(shell string, p Program) (string, error) {
	t, err := newTree(p)
	if err != nil {
		return "", err
	}
	switch shell {
	case "bash":
		return bash(t), nil
	case "zsh":
		return zsh(t), nil
	case "fish":
		return fish(t), nil
	}
	return "", fmt.Errorf("no completion for shell %q: want %s", shell, strings.Join(Shells(), ", "))
}

// tree is a Program indexed by command path, the words that lead to a
// command joined by spaces ("" before any).
type tree struct {
	name  string
	fn    string   // the scripts' function prefix: _kf_run
	paths []string // every path, "" first, in the Program's order
	subs  map[string][]string
	flags map[string][]Flag
	args  map[string][]string
}

// isToken says whether s may stand unquoted in a script, as a name, a word
// or an argument: letters, digits and . _ + -, not first.
func isToken(s string) bool {
	for i, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case i > 0 && strings.ContainsRune("._+-", r):
		default:
			return false
		}
	}
	return s != ""
}

func newTree(p Program) (*tree, error) {
	t := &tree{
		name:  p.Name,
		fn:    "_" + funcName(p.Name),
		paths: []string{""},
		subs:  map[string][]string{},
		flags: map[string][]Flag{"": p.Flags},
		args:  map[string][]string{},
	}
	if !isToken(p.Name) {
		return nil, fmt.Errorf("completion: program name %q: want letters, digits and . _ + - only", p.Name)
	}
	if err := checkFlags("", p.Flags); err != nil {
		return nil, err
	}
	for _, c := range p.Commands {
		words := strings.Split(c.Name, " ")
		for i, w := range words {
			if !isToken(w) {
				return nil, fmt.Errorf("completion: command %q: word %q: want letters, digits and . _ + - only", c.Name, w)
			}
			parent, path := strings.Join(words[:i], " "), strings.Join(words[:i+1], " ")
			if !slices.Contains(t.subs[parent], w) {
				t.subs[parent] = append(t.subs[parent], w)
			}
			if !slices.Contains(t.paths, path) {
				t.paths = append(t.paths, path)
			}
		}
		if _, dup := t.flags[c.Name]; dup && c.Name != "" {
			return nil, fmt.Errorf("completion: command %q is described twice", c.Name)
		}
		if err := checkFlags(c.Name, c.Flags); err != nil {
			return nil, err
		}
		for _, a := range c.Args {
			if !isToken(a) {
				return nil, fmt.Errorf("completion: command %q: argument %q: want letters, digits and . _ + - only", c.Name, a)
			}
		}
		t.flags[c.Name], t.args[c.Name] = c.Flags, c.Args
	}
	return t, nil
}

func checkFlags(cmd string, flags []Flag) error {
	for _, f := range flags {
		words := append([]string{f.Name}, f.Words...)
		if f.Query != nil {
			words = append(append(words, f.Query.Args...), f.Query.Pass...)
		}
		for _, w := range words {
			if !isToken(w) {
				return fmt.Errorf("completion: command %q: flag --%s: %q: want letters, digits and . _ + - only", cmd, f.Name, w)
			}
		}
		if strings.ContainsAny(f.Usage, "\n\r") {
			return fmt.Errorf("completion: command %q: flag --%s: its usage must be one line", cmd, f.Name)
		}
	}
	return nil
}

// funcName is name as a shell function name: kf-run → kf_run.
func funcName(name string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, name)
}

// valueKind is how a flag's value completes, the same text for flags that
// complete alike so each shell writes one branch for all of them.
func valueKind(f Flag) string {
	switch {
	case f.Bool:
		return ""
	case len(f.Words) > 0:
		return "words " + strings.Join(f.Words, " ")
	case f.Files:
		return "files"
	case f.Query != nil:
		return "query " + strings.Join(f.Query.Pass, " ") + " -- " + strings.Join(f.Query.Args, " ")
	}
	return "text"
}

// arm is one branch of a case over "path|flag": the patterns that share a
// value kind, in first-seen order.
type arm struct {
	kind string
	flag Flag // the first flag of the arm, for its Words and Query
	keys []string
}

func (t *tree) valueArms() []arm {
	var arms []arm
	for _, p := range t.paths {
		for _, f := range t.flags[p] {
			k := valueKind(f)
			if k == "" {
				continue
			}
			i := slices.IndexFunc(arms, func(a arm) bool { return a.kind == k })
			if i < 0 {
				arms = append(arms, arm{kind: k, flag: f})
				i = len(arms) - 1
			}
			arms[i].keys = append(arms[i].keys, p+"|"+f.Name)
		}
	}
	return arms
}

// flagNames are the flags at path, each with its dashes.
func (t *tree) flagNames(path string) []string {
	var out []string
	for _, f := range t.flags[path] {
		out = append(out, "--"+f.Name)
	}
	return out
}

// quoted is s in single quotes for bash and zsh.
func quoted(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// patterns are keys as the alternatives of a bash or zsh case pattern.
func patterns(keys []string) string {
	q := make([]string, len(keys))
	for i, k := range keys {
		q[i] = quoted(k)
	}
	return strings.Join(q, "|")
}

// scanArms are the arms of the case that reads each word before the cursor,
// in the bash and zsh scripts alike (their heads hold @SCAN@): a
// --flag=value is a given pair, a --flag that takes a value awaits it, and
// another word is the command's next word or an argument.
const scanArms = `        -*=*)
            w=${w#-}
            w=${w#-}
            given+=("${w%%=*}" "${w#*=}")
            ;;
        -*)
            w=${w#-}
            w=${w#-}
            if @FN@_takes_value "$cmd" "$w"; then expect=$w; fi
            ;;
        *)
            if @FN@_is_sub "$cmd" "$w"; then
                cmd=${cmd:+$cmd }$w
                n=0
            else
                n=$((n + 1))
            fi
            ;;
`

// head is a script's head with its placeholders filled.
func head(h string, t *tree) string {
	h = strings.Replace(h, "@SCAN@", scanArms, 1)
	return strings.NewReplacer("@NAME@", t.name, "@FN@", t.fn).Replace(h)
}
