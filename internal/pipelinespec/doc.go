// Package pipelinespec reads a compiled Kubeflow Pipelines package — the
// pipeline spec ("IR") YAML or JSON that the KFP SDK v2 compiler writes,
// optionally followed by a second YAML document with the kfp-kubernetes
// platform spec — into plain values kf-run can check, edit and submit.
//
// Every document is parsed locally and any syntax or structure problem is
// reported with its file:line, because KFP servers up to 2.17 hang forever on
// an upload they cannot parse
// (backend/src/apiserver/template/v2_template.go loops on decode errors): kf-run
// never uploads a file this package could not read.
//
// kf-run submits only KFP v2 pipeline specs. A KFP v1 package (an Argo
// Workflow, as the v1 SDK compiled them) is rejected with a hint to recompile
// with the v2 SDK: KFP 2.x servers accept v1 packages only through the
// deprecated v1beta1 API, which kf-run does not use.
//
// The pipeline and platform documents are kept as JSON-compatible values
// (map[string]any, []any, string, int64, float64, bool, nil; integers beyond
// int64 as json.Number so no digit is lost). Fields this package does not know
// are carried through untouched, so newer SDKs' additions survive. Callers may
// edit Spec.Pipeline and Spec.Platform (on a Clone, to leave others' view
// alone); RunBody, Images and YAML read the current maps, and Refresh
// re-derives Tasks and Inputs and re-checks the structure. YAML verifies that
// what it writes reads back to the same values before returning it.
//
// It does not talk to KFP, resolve images, or apply pod settings.
package pipelinespec
