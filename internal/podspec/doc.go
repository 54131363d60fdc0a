// Package podspec applies submit-time settings to a compiled pipeline, so a
// user changes where and how its steps run without recompiling in Python:
// pod settings (node selector, tolerations, node affinity, pod labels and
// annotations, image pull secrets, secrets, config maps, PVCs) go into the
// kfp-kubernetes platform spec, platforms.kubernetes.deploymentSpec.executors.<executor>;
// CPU, memory and accelerators go into the executor's container.resources in
// the pipeline spec; caching on or off rewrites every task's
// cachingOptions.enableCache.
//
// The shapes written are the ones the KFP SDK and kfp-kubernetes emit, in the
// form of the file's SDK era (see Era): KFP 2.0.x servers reject fields they
// do not know, newer ones read the newer fields first. What the compiled file
// already has is merged with, never dropped, including fields this package
// does not know.
//
// Merge rule: the file's own settings come first, then each level in order
// (defaults, the pipeline's own), then the levels' task overrides for the
// tasks they name, so a task override beats any pipeline-wide setting.
//   - single values (one resource quantity, the accelerator) are replaced;
//     an accelerator given as a limit replaces one given by type, and back;
//   - maps (node_selector, labels, annotations, resource requests and
//     limits) are merged key by key, the later level winning a key;
//   - lists are appended, and an entry with the identity of an earlier one
//     replaces it: tolerations by key, operator, value and effect; image
//     pull secrets, secrets and config maps by name; PVCs by mount path;
//     node affinity terms when they are equal. In the file's platform
//     spec, env entries are matched by Secret or ConfigMap name (their keys
//     by env var) and volumes by mount path, and updated in place.
//
// It does not read config files (plan converts kf-run.yaml's pod: blocks into
// Settings), talk to KFP, or check that the named secrets exist.
package podspec
