package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/kf-run/kf-run/internal/completion"
	"github.com/kf-run/kf-run/internal/config"
)

func completionCommand() command {
	return command{
		name: "completion",
		usage: `kf-run completion bash|zsh|fish
kf-run completion pipelines [--config FILE]`,
		about: `Prints a script that makes the shell complete kf-run's commands, their
flags, --output's formats, files where a flag takes a FILE, and --pipeline's
names. Install it once:

  bash  in ~/.bashrc:  source <(kf-run completion bash)
  zsh   in ~/.zshrc, after compinit:  source <(kf-run completion zsh)
  fish  kf-run completion fish > ~/.config/fish/completions/kf-run.fish

For --pipeline the script runs kf-run completion pipelines, which prints
the pipeline names of the config (--config as given on the line, else
kf-run.yaml in the working directory, else nothing), one a line. It reads
only pipelines[].name as plain YAML: it runs no compile: command, expands
no ${VAR}, needs no secrets and contacts nothing.`,
		exits: `Exit codes:
  0  the script (or the names) was printed
  1  the script could not be made (a bug in kf-run: please report it)
  2  usage error (no shell, or one kf-run has no script for), or a config
     whose names cannot be read`,
		flags: func() *flag.FlagSet { return new(completionOptions).flagSet() },
		args:  completion.Shells(),
		run:   completionCmd,
	}
}

// completionOptions are kf-run completion's flags.
type completionOptions struct{ config string }

func (o *completionOptions) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("completion", flag.ContinueOnError)
	fs.StringVar(&o.config, "config", "", "with pipelines: the config `FILE` whose names to print (default kf-run.yaml when present)")
	return fs
}

// completionCmd prints a shell's completion script, or for the scripts the
// config's pipeline names.
func completionCmd(_ context.Context, args []string, e env) int {
	var opt completionOptions
	pos, code, ok := completionCommand().parse(opt.flagSet(), args, e, 1)
	if !ok {
		return code
	}
	switch {
	case len(pos) == 0:
		fmt.Fprintf(e.stderr, "kf-run completion: which shell? Give one of %s\nRun 'kf-run completion --help' for how to install the script.\n", strings.Join(completion.Shells(), ", "))
		return exitUsage
	case pos[0] == "pipelines":
		return printPipelineNames(opt.config, e)
	case !slices.Contains(completion.Shells(), pos[0]):
		fmt.Fprintf(e.stderr, "kf-run completion: no script for shell %q: give one of %s\nRun 'kf-run completion --help' for its usage.\n", pos[0], strings.Join(completion.Shells(), ", "))
		return exitUsage
	case opt.config != "":
		fmt.Fprintf(e.stderr, "kf-run completion: --config goes with pipelines, not with a shell\nRun 'kf-run completion --help' for its usage.\n")
		return exitUsage
	}
	script, err := completion.Script(pos[0], completionProgram())
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run completion: %v\n", err)
		return exitError
	}
	fmt.Fprint(e.stdout, script)
	return exitOK
}

// printPipelineNames prints the pipeline names of the config at path, else
// of kf-run.yaml when there is one: nothing to complete is no error.
func printPipelineNames(path string, e env) int {
	given := path != ""
	if !given {
		path = config.DefaultFile
	}
	names, err := config.PipelineNames(path)
	if errors.Is(err, fs.ErrNotExist) && !given {
		return exitOK
	}
	if err != nil {
		fmt.Fprintf(e.stderr, "kf-run completion: %v\n", err)
		return exitUsage
	}
	for _, n := range names {
		fmt.Fprintln(e.stdout, n)
	}
	return exitOK
}

// completionProgram is kf-run's command line as the completion scripts see
// it, made from the command table and each command's own flag set: a new
// command or flag is completed with no change here.
func completionProgram() completion.Program {
	p := completion.Program{Name: "kf-run", Flags: []completion.Flag{
		{Name: "help", Bool: true, Usage: "list the commands and the exit codes"},
		{Name: "version", Bool: true, Usage: "print the version"},
	}}
	for _, c := range commands() {
		cc := completion.Command{Name: c.name, Args: c.args}
		if c.flags != nil {
			c.flags().VisitAll(func(f *flag.Flag) { cc.Flags = append(cc.Flags, completionFlag(f)) })
			cc.Flags = append(cc.Flags, completion.Flag{Name: "help", Bool: true, Usage: "print the command's flags, environment and exit codes"})
		}
		p.Commands = append(p.Commands, cc)
	}
	return p
}

// completionFlag is f for the completion scripts. Its value completes to
// the words its Value lists (--output's formats), to the config's pipeline
// names for --pipeline, to files when its usage names a FILE, else to
// nothing.
func completionFlag(f *flag.Flag) completion.Flag {
	kind, usage := flag.UnquoteUsage(f)
	cf := completion.Flag{Name: f.Name, Usage: usage}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		cf.Bool = true
		return cf
	}
	w, listed := f.Value.(interface{ values() []string })
	switch {
	case listed:
		cf.Words = w.values()
	case f.Name == "pipeline":
		cf.Query = &completion.Query{Args: []string{"completion", "pipelines"}, Pass: []string{"config"}}
	case kind == "FILE":
		cf.Files = true
	}
	return cf
}
