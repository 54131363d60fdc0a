package completion

import (
	"fmt"
	"strings"
)

// fishHead are the helpers: fish completes from declarations, each with a
// condition that reads the line the way bash's function does.
const fishHead = `# fish completion for @NAME@, written by "@NAME@ completion fish".
# Load it with: @NAME@ completion fish | source
# or save it as ~/.config/fish/completions/@NAME@.fish

# @FN@_state prints, one a line, the command path of the words before the
# cursor, the count of its arguments and the flag that awaits a value.
function @FN@_state
    set -l cmd ''
    set -l expect ''
    set -l n 0
    for w in (commandline -opc)[2..-1]
        if test -n "$expect"
            set expect ''
            continue
        end
        switch $w
            case '-*=*'
                continue
            case '-*'
                set -l name (string replace -r -- '^--?' '' $w)
                if @FN@_takes_value "$cmd" "$name"
                    set expect $name
                end
            case '*'
                if @FN@_is_sub "$cmd" "$w"
                    set cmd (string trim -- "$cmd $w")
                    set n 0
                else
                    set n (math $n + 1)
                end
        end
    end
    printf '%s\n' "$cmd" $n "$expect"
end

# @FN@_in CMD: the words before the cursor are of the command CMD.
function @FN@_in
    set -l s (@FN@_state)
    test "$s[1]" = "$argv[1]"
end

# @FN@_at CMD [N]: a word of CMD comes next, not a flag's value (and
# CMD has N arguments so far).
function @FN@_at
    set -l s (@FN@_state)
    test "$s[1]" = "$argv[1]"; and test -z "$s[3]"; or return 1
    test (count $argv) -lt 2; or test "$s[2]" = "$argv[2]"
end

# @FN@_home WORD: WORD with a leading ~/ made $HOME/.
function @FN@_home
    string replace -r -- '^~/' "$HOME/" $argv[1]
end

# @FN@_query PASS ARG...: the lines the program prints when run with the
# ARGs, and with --F VALUE for each flag F of PASS (space-separated) given
# on the line.
function @FN@_query
    set -l pass (string split -n ' ' -- $argv[1])
    set -l q $argv[2..-1]
    set -l tokens (commandline -opc)
    for j in (seq 2 (count $tokens))
        for f in $pass
            if test "$tokens[$j]" = "--$f"; and test $j -lt (count $tokens)
                set q $q --$f (@FN@_home $tokens[(math $j + 1)])
            else if string match -q -- "--$f=*" $tokens[$j]
                set q $q --$f (@FN@_home (string replace -- "--$f=" '' $tokens[$j]))
            end
        end
    end
    set -l prog (@FN@_home $tokens[1])
    command $prog $q 2>/dev/null
end

# Files only where a flag takes them.
complete -c @NAME@ -f
`

func fish(t *tree) string {
	var b strings.Builder
	r := strings.NewReplacer("@NAME@", t.name, "@FN@", t.fn)
	b.WriteString(r.Replace(fishHead))
	for _, p := range t.paths {
		if subs := t.subs[p]; len(subs) > 0 {
			fmt.Fprintf(&b, "complete -c %s -n %s -a %s\n", t.name, fishQuoted(t.fn+"_at "+dq(p)), fishQuoted(strings.Join(subs, " ")))
		}
		if args := t.args[p]; len(args) > 0 {
			fmt.Fprintf(&b, "complete -c %s -n %s -a %s\n", t.name, fishQuoted(t.fn+"_at "+dq(p)+" 0"), fishQuoted(strings.Join(args, " ")))
		}
		for _, f := range t.flags[p] {
			fmt.Fprintf(&b, "complete -c %s -n %s -l %s", t.name, fishQuoted(t.fn+"_in "+dq(p)), f.Name)
			switch {
			case f.Bool:
			case len(f.Words) > 0:
				fmt.Fprintf(&b, " -x -a %s", fishQuoted(strings.Join(f.Words, " ")))
			case f.Files:
				b.WriteString(" -r -F")
			case f.Query != nil:
				q := fmt.Sprintf("(%s_query %s %s)", t.fn, dq(strings.Join(f.Query.Pass, " ")), strings.Join(f.Query.Args, " "))
				fmt.Fprintf(&b, " -x -a %s", fishQuoted(q))
			default:
				b.WriteString(" -x")
			}
			if f.Usage != "" {
				fmt.Fprintf(&b, " -d %s", fishQuoted(f.Usage))
			}
			b.WriteString("\n")
		}
	}
	b.WriteString("\n")
	writeFishSwitch(&b, t.fn+"_takes_value", "CMD FLAG: succeeds when FLAG takes a value in the command CMD", t.paths, t.valueFlags())
	writeFishSwitch(&b, t.fn+"_is_sub", "CMD WORD: succeeds when WORD is a command, or its next word, after CMD", t.paths, t.subs)
	return b.String()
}

// writeFishSwitch is writeBashCase for fish.
func writeFishSwitch(b *strings.Builder, name, doc string, paths []string, words map[string][]string) {
	fmt.Fprintf(b, "# %s %s.\nfunction %s\n    switch $argv[1]\n", name, doc, name)
	for _, p := range paths {
		if ws := words[p]; len(ws) > 0 {
			fmt.Fprintf(b, "        case %s\n            contains -- $argv[2] %s; and return 0\n", fishQuoted(p), strings.Join(ws, " "))
		}
	}
	b.WriteString("    end\n    return 1\nend\n\n")
}

// dq is words (tokens, or none) as one argument inside a single-quoted
// condition: in double quotes, which they need no escape in.
func dq(words string) string { return `"` + words + `"` }

// fishQuoted is s in fish's single quotes, where only \ and ' are special.
func fishQuoted(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}
