package report

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kf-run/kf-run/internal/console"
)

// Text from KFP and from the spec (task names, messages, parameters, log
// lines) is untrusted: escaping keeps it from closing a table cell, opening
// HTML, starting code, math or a link, or pinging people in a PR comment.
// GFM spec: https://github.github.com/gfm/

// cell escapes s for use as inline text, including inside a table cell:
// HTML-significant characters become entities, markdown punctuation is
// backslash-escaped, newlines become <br>, controls are dropped, and long
// text is cut to max runes (0: no cut).
func cell(s string, max int) string {
	s = cut(console.StripControl(strings.ReplaceAll(s, "\r\n", "\n")), max)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '"':
			b.WriteString("&quot;")
		case '`':
			b.WriteString("&#96;")
		case '\n':
			b.WriteString("<br>")
		case '@':
			// A word joiner breaks @mentions (and team pings) without
			// changing how the text reads.
			b.WriteString("@\u2060")
		case '\\', '|', '*', '_', '[', ']', '(', ')', '#', '!', '~', '$', '{', '}':
			// List markers ("-", "1.") need no escape: newlines became
			// <br>, so the text never starts a line.
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// code renders s as inline code with HTML, so no backtick in s can close it
// and autolinks inside are not processed. "@" stays as it is: neither
// GitHub (html-pipeline's MentionFilter skips code, pre and links) nor
// GitLab (reference filters ignore code and pre) makes a mention in code,
// and an image reference repo@sha256:… must stay copyable.
func code(s string, max int) string {
	s = cut(console.StripControl(strings.ReplaceAll(s, "\n", " ")), max)
	r := strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "|", "&#124;", "\\", "&#92;",
		"`", "&#96;", "*", "&#42;", "_", "&#95;", "[", "&#91;", "]", "&#93;", "~", "&#126;", "$", "&#36;")
	return "<code>" + r.Replace(s) + "</code>"
}

// fence returns a backtick fence longer than any backtick run in body.
func fence(body string) string {
	longest, run := 0, 0
	for i := 0; i < len(body); i++ {
		if body[i] == '`' {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	return strings.Repeat("`", max(3, longest+1))
}

// link renders [text](url) for http(s) URLs; anything else is shown as
// escaped text, so a javascript: or relative URL never becomes a link.
// text must already be escaped.
func link(text, raw string) string {
	u, err := url.Parse(raw)
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		if raw == "" {
			return text
		}
		return text + " (" + cell(raw, 300) + ")"
	}
	// The angle-bracket destination form allows spaces and parentheses;
	// only < > and line breaks must not appear in it.
	dest := strings.NewReplacer("<", "%3C", ">", "%3E", "\n", "", "\r", "", " ", "%20").Replace(raw)
	return "[" + text + "](<" + dest + ">)"
}

// mermaidLabel sanitizes s for a quoted Mermaid node label: quotes and
// markup are replaced by Mermaid's #code; entities, controls dropped.
func mermaidLabel(s string) string {
	s = cut(console.StripControl(strings.ReplaceAll(s, "\n", " ")), 60)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9',
			r == ' ', r == '-', r == '_', r == '.', r == '/', r == ',', r == '=', r == '+':
			b.WriteRune(r)
		case r < 128:
			// Mermaid entity codes (#35; is "#") keep the label readable
			// without giving the parser any syntax.
			b.WriteString("#" + strconv.Itoa(int(r)) + ";")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cut shortens s to at most max runes, marking the cut with "…".
func cut(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// brief keeps the first lines of s, at most max runes, saying how many
// lines it left out.
func brief(s string, lines, max int) string {
	s = strings.TrimRight(s, "\n")
	all := strings.Split(s, "\n")
	if len(all) > lines {
		s = strings.Join(all[:lines], "\n") + "\n… (" + strconv.Itoa(len(all)-lines) + " more lines)"
	}
	return cut(s, max)
}
