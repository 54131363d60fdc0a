package completion

import (
	"fmt"
	"strings"
)

// bashHead are the helpers, and the start of the completion function up to
// the point where the words before the cursor have been read: cmd is the
// command path, n the count of its arguments, expect the flag that awaits
// a value (without dashes), given the flag-value pairs seen so far.
// It runs in bash 3.2 (macOS): no associative arrays, no mapfile.
const bashHead = `# bash completion for @NAME@, written by "@NAME@ completion bash".
# Load it with: source <(@NAME@ completion bash)

# @FN@_add PREFIX CUR WORD...: offers each WORD that starts with CUR.
@FN@_add() {
    local p=$1 c=$2 w
    shift 2
    for w; do
        if [[ $w == "$c"* ]]; then COMPREPLY+=("$p$w"); fi
    done
}

# @FN@_lines PREFIX CUR COMMAND...: offers the lines COMMAND prints that
# start with CUR, quoted for the line as the shell reads it ("my pipe" is
# my\ pipe).
@FN@_lines() {
    local p=$1 c=$2 l
    shift 2
    while IFS= read -r l; do
        if [[ -z $l ]]; then continue; fi
        printf -v l '%q' "$l"
        if [[ $l == "$c"* ]]; then COMPREPLY+=("$p$l"); fi
    done < <("$@" 2>/dev/null)
}

# @FN@_files PREFIX CUR: offers the files and directories CUR starts.
@FN@_files() {
    local l
    if type compopt >/dev/null 2>&1; then compopt -o filenames 2>/dev/null; fi
    while IFS= read -r l; do
        COMPREPLY+=("$1$l")
    done < <(compgen -f -- "$2")
}

# @FN@_home WORD: WORD as the shell passes it when it runs the line, as
# bash keeps it quoted in COMP_WORDS: one level of '...' or "..." undone,
# else backslash escapes undone and a leading ~/ made $HOME/. No eval: the
# line is the user's, not yet run.
@FN@_home() {
    local w=$1 out= c i dq=
    case $w in
    \'*\')
        w=${w#\'}
        printf '%s\n' "${w%\'}"
        return
        ;;
    \"*\")
        w=${w#\"}
        w=${w%\"}
        dq=1
        ;;
    '~/'*) w=$HOME/${w#\~/} ;;
    esac
    for ((i = 0; i < ${#w}; i++)); do
        c=${w:i:1}
        # Inside "...", a backslash escapes only $, a backquote, " and
        # itself.
        if [[ $c == \\ && ( -z $dq || ${w:i+1:1} == [\$\"\\] || ${w:i+1:1} == $'\x60' ) ]]; then
            i=$((i + 1))
            c=${w:i:1}
        fi
        out+=$c
    done
    printf '%s\n' "$out"
}

@FN@() {
    local cur=${COMP_WORDS[COMP_CWORD]} cmd= expect= prefix= w i n=0
    local -a given=() q=()
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ -n $expect ]]; then
            # bash splits --flag=value at the = (COMP_WORDBREAKS).
            if [[ $w == = ]]; then continue; fi
            given+=("$expect" "$w")
            expect=
            continue
        fi
        case $w in
        =) expect='=' ;; # a value for a flag that takes none: --no-wait=true
@SCAN@        esac
    done
    if [[ $cur == = ]]; then
        cur=
        expect=${expect:-=}
    fi
    if [[ -z $expect && $cur == -*=* ]]; then
        prefix=${cur%%=*}=
        cur=${cur#*=}
        w=${prefix%=}
        w=${w#-}
        expect=${w#-}
    fi
`

func bash(t *tree) string {
	var b strings.Builder
	b.WriteString(head(bashHead, t))

	// The value of a flag.
	b.WriteString("    if [[ -n $expect ]]; then\n        case \"$cmd|$expect\" in\n")
	for _, a := range t.valueArms() {
		switch {
		case len(a.flag.Words) > 0:
			fmt.Fprintf(&b, "        %s)\n            %s_add \"$prefix\" \"$cur\" %s\n            ;;\n", patterns(a.keys), t.fn, strings.Join(a.flag.Words, " "))
		case a.flag.Files:
			fmt.Fprintf(&b, "        %s)\n            %s_files \"$prefix\" \"$cur\"\n            ;;\n", patterns(a.keys), t.fn)
		case a.flag.Query != nil:
			fmt.Fprintf(&b, "        %s)\n            q=(%s)\n", patterns(a.keys), strings.Join(a.flag.Query.Args, " "))
			if len(a.flag.Query.Pass) > 0 {
				fmt.Fprintf(&b, "            for ((i = 0; i < ${#given[@]}; i += 2)); do\n"+
					"                case ${given[i]} in\n"+
					"                %s) q+=(\"--${given[i]}\" \"$(%s_home \"${given[i+1]}\")\") ;;\n"+
					"                esac\n"+
					"            done\n", strings.Join(a.flag.Query.Pass, "|"), t.fn)
			}
			fmt.Fprintf(&b, "            %[1]s_lines \"$prefix\" \"$cur\" \"$(%[1]s_home \"${COMP_WORDS[0]}\")\" \"${q[@]}\"\n            ;;\n", t.fn)
		}
	}
	b.WriteString("        esac\n        return 0\n    fi\n")

	// A command's word, or an argument's.
	b.WriteString("    if [[ $cur != -* ]]; then\n        case $cmd in\n")
	for _, p := range t.paths {
		if subs := t.subs[p]; len(subs) > 0 {
			fmt.Fprintf(&b, "        %s)\n            %s_add \"\" \"$cur\" %s\n            return 0\n            ;;\n", quoted(p), t.fn, strings.Join(subs, " "))
		}
	}
	b.WriteString("        esac\n        if ((n == 0)); then\n            case $cmd in\n")
	for _, p := range t.paths {
		if args := t.args[p]; len(args) > 0 {
			fmt.Fprintf(&b, "            %s)\n                %s_add \"\" \"$cur\" %s\n                return 0\n                ;;\n", quoted(p), t.fn, strings.Join(args, " "))
		}
	}
	b.WriteString("            esac\n        fi\n" +
		"        # Nothing else to offer where a word was begun: an argument no\n" +
		"        # one can guess (a run ID).\n" +
		"        if [[ -n $cur ]]; then return 0; fi\n    fi\n")

	// A flag.
	b.WriteString("    case $cmd in\n")
	for _, p := range t.paths {
		if names := t.flagNames(p); len(names) > 0 {
			fmt.Fprintf(&b, "    %s)\n        %s_add \"\" \"$cur\" %s\n        ;;\n", quoted(p), t.fn, strings.Join(names, " "))
		}
	}
	b.WriteString("    esac\n}\n\n")

	writeBashCase(&b, t.fn+"_takes_value", "CMD FLAG: succeeds when FLAG takes a value in the command CMD", t.paths, t.valueFlags())
	writeBashCase(&b, t.fn+"_is_sub", "CMD WORD: succeeds when WORD is a command, or its next word, after CMD", t.paths, t.subs)
	fmt.Fprintf(&b, "complete -F %s %s\n", t.fn, t.name)
	return b.String()
}

// writeBashCase writes a function of a command path and a word that
// succeeds when the word is one of the path's in words. It is valid zsh
// too.
func writeBashCase(b *strings.Builder, name, doc string, paths []string, words map[string][]string) {
	fmt.Fprintf(b, "# %s %s.\n%s() {\n    case $1 in\n", name, doc, name)
	for _, p := range paths {
		if ws := words[p]; len(ws) > 0 {
			fmt.Fprintf(b, "    %s) case $2 in %s) return 0 ;; esac ;;\n", quoted(p), strings.Join(ws, "|"))
		}
	}
	b.WriteString("    esac\n    return 1\n}\n\n")
}

// valueFlags are, by command path, the flags that take a value.
func (t *tree) valueFlags() map[string][]string {
	m := map[string][]string{}
	for _, p := range t.paths {
		for _, f := range t.flags[p] {
			if !f.Bool {
				m[p] = append(m[p], f.Name)
			}
		}
	}
	return m
}
