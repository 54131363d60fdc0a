package pipelinespec

import (
	"fmt"
	"strings"
)

// Error is a problem in a pipeline package, with its position.
// Line and Column are 1-based; Line is 0 when the position is unknown.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
	Hint   string
}

// Error formats as "FILE:LINE:COL: msg", dropping unknown parts of the
// position, with "\n  hint: ..." when there is a hint.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
		if e.Column > 0 {
			fmt.Fprintf(&b, ":%d", e.Column)
		}
	}
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Hint != "" {
		b.WriteString("\n  hint: ")
		b.WriteString(e.Hint)
	}
	return b.String()
}
