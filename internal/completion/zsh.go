package completion

import (
	"fmt"
	"strings"
)

// zshHead is the start of the completion function, up to the point where
// the words before the cursor have been read, as in bash. zsh keeps
// --flag=value one word, and has $path tied to $PATH: the path is cmd.
const zshHead = `#compdef @NAME@
# zsh completion for @NAME@, written by "@NAME@ completion zsh".
# Load it with: source <(@NAME@ completion zsh)   (after compinit)
# or save it as _@NAME@ in a directory of $fpath.

# @FN@_home WORD: WORD unquoted, with a leading ~/ made $HOME/, as the
# shell would when it runs the line; in $REPLY.
@FN@_home() {
    REPLY=${(Q)1}
    if [[ $REPLY == '~/'* ]]; then REPLY=$HOME/${REPLY#\~/}; fi
}

@FN@() {
    local cur=${words[CURRENT]} cmd= expect= w i n=0 REPLY
    local -a given q lines flags
    for ((i = 2; i < CURRENT; i++)); do
        w=${words[i]}
        if [[ -n $expect ]]; then
            given+=("$expect" "$w")
            expect=
            continue
        fi
        case $w in
@SCAN@        esac
    done
    if [[ -z $expect && $cur == -*=* ]]; then
        w=${cur%%=*}
        w=${w#-}
        expect=${w#-}
        compset -P 1 '*='
    fi
`

func zsh(t *tree) string {
	var b strings.Builder
	b.WriteString(head(zshHead, t))

	b.WriteString("    if [[ -n $expect ]]; then\n        case \"$cmd|$expect\" in\n")
	for _, a := range t.valueArms() {
		switch {
		case len(a.flag.Words) > 0:
			fmt.Fprintf(&b, "        %s)\n            compadd -- %s\n            ;;\n", patterns(a.keys), strings.Join(a.flag.Words, " "))
		case a.flag.Files:
			fmt.Fprintf(&b, "        %s)\n            _files\n            ;;\n", patterns(a.keys))
		case a.flag.Query != nil:
			fmt.Fprintf(&b, "        %s)\n            q=(%s)\n", patterns(a.keys), strings.Join(a.flag.Query.Args, " "))
			if len(a.flag.Query.Pass) > 0 {
				fmt.Fprintf(&b, "            for ((i = 1; i < ${#given}; i += 2)); do\n"+
					"                case ${given[i]} in\n"+
					"                %s)\n"+
					"                    %s_home \"${given[i+1]}\"\n"+
					"                    q+=(\"--${given[i]}\" \"$REPLY\")\n"+
					"                    ;;\n"+
					"                esac\n"+
					"            done\n", strings.Join(a.flag.Query.Pass, "|"), t.fn)
			}
			fmt.Fprintf(&b, "            %s_home \"${words[1]}\"\n"+
				"            lines=(\"${(@f)$(\"$REPLY\" \"${q[@]}\" 2>/dev/null)}\")\n"+
				"            compadd -- ${lines:#}\n            ;;\n", t.fn)
		}
	}
	b.WriteString("        esac\n        return\n    fi\n")

	b.WriteString("    if [[ $cur != -* ]]; then\n        case $cmd in\n")
	for _, p := range t.paths {
		if subs := t.subs[p]; len(subs) > 0 {
			fmt.Fprintf(&b, "        %s)\n            compadd -- %s\n            return\n            ;;\n", quoted(p), strings.Join(subs, " "))
		}
	}
	b.WriteString("        esac\n        if ((n == 0)); then\n            case $cmd in\n")
	for _, p := range t.paths {
		if args := t.args[p]; len(args) > 0 {
			fmt.Fprintf(&b, "            %s)\n                compadd -- %s\n                return\n                ;;\n", quoted(p), strings.Join(args, " "))
		}
	}
	b.WriteString("            esac\n        fi\n        if [[ -n $cur ]]; then return 1; fi\n    fi\n")

	b.WriteString("    case $cmd in\n")
	for _, p := range t.paths {
		fs := t.flags[p]
		if len(fs) == 0 {
			continue
		}
		items := make([]string, len(fs))
		for i, f := range fs {
			items[i] = quoted("--" + f.Name + ":" + f.Usage)
		}
		fmt.Fprintf(&b, "    %s)\n        flags=(\n            %s\n        )\n        ;;\n", quoted(p), strings.Join(items, "\n            "))
	}
	b.WriteString("    esac\n    _describe -t flags flag flags\n}\n\n")

	writeBashCase(&b, t.fn+"_takes_value", "CMD FLAG: succeeds when FLAG takes a value in the command CMD", t.paths, t.valueFlags())
	writeBashCase(&b, t.fn+"_is_sub", "CMD WORD: succeeds when WORD is a command, or its next word, after CMD", t.paths, t.subs)
	// Autoloaded from $fpath, the file is the body of _NAME: define and
	// complete; sourced, register.
	fmt.Fprintf(&b, "if [[ ${funcstack[1]} == _%s ]]; then\n    %s \"$@\"\nelse\n    compdef %s %s\nfi\n", t.name, t.fn, t.fn, t.name)
	return b.String()
}
