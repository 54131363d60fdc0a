package report

import (
	"fmt"
	"strings"
)

// earlier lists, on a pull request's preview run, the pipeline's earlier
// runs in the pull request, newest first, and links to its experiment,
// which holds them all: the sticky comment shows the latest run and keeps
// the way to the ones before it.
func (r *renderer) earlier(b *strings.Builder) {
	pv := r.pl.Preview
	if pv == nil || (len(pv.Earlier) == 0 && !pv.Reopened) {
		return
	}
	exp := "this pull request"
	if s := r.pl.Submission; s != nil && s.ExperimentName != "" {
		exp = code(r.text(s.ExperimentName), 100)
	}
	fmt.Fprintf(b, "**Earlier runs of %s in %s** (%s):\n\n", cell(r.pl.Name, 100), exp, link("all runs", r.text(pv.ExperimentURL)))
	for _, e := range pv.Earlier {
		name := e.Name
		if name == "" {
			name = e.ID
		}
		state := e.State.String()
		if e.Superseded {
			state += ", terminated: superseded by this run"
		}
		when := ""
		if !e.Created.IsZero() {
			when = ", started " + e.Created.UTC().Format("2006-01-02 15:04 UTC")
		}
		fmt.Fprintf(b, "- %s: %s%s\n", link(cell(r.text(name), 100), r.text(e.URL)), state, when)
	}
	if pv.MoreEarlier > 0 {
		fmt.Fprintf(b, "- and %d more\n", pv.MoreEarlier)
	}
	if pv.Reopened {
		b.WriteString("- the experiment had been archived when the pull request was cleaned up; reopened, it is in use again\n")
	}
	b.WriteString("\n")
}
