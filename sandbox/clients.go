package sandbox

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/kubeflow/pipelines/backend/src/apiserver/client"
	"github.com/kubeflow/pipelines/backend/src/apiserver/common"
	"github.com/kubeflow/pipelines/backend/src/apiserver/resource"
	"github.com/kubeflow/pipelines/backend/src/common/util"
	swfapi "github.com/kubeflow/pipelines/backend/src/crd/pkg/apis/scheduledworkflow/v1beta1"
	swfclient "github.com/kubeflow/pipelines/backend/src/crd/pkg/client/clientset/versioned/typed/scheduledworkflow/v1beta1"
	authv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	k8errors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8schema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	k8srand "k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/apimachinery/pkg/watch"
)

// agentUser is the identity the sandbox's own reports (the persistence
// agent's job in a cluster) run as. The policy always allows it, so
// advancing runs keeps working under a restrictive --allow policy.
const agentUser = "system:serviceaccount:kubeflow:ml-pipeline-persistenceagent"

// clientManager is KFP's FakeClientManager with the pieces that are too thin
// for a long-lived sandbox replaced: recurring runs get real UIDs, and
// TokenReview follows the sandbox's token policy.
type clientManager struct {
	*resource.FakeClientManager
	swf         *swfFake
	tokenReview tokenReview
}

func (c *clientManager) SwfClient() client.SwfClientInterface { return c.swf }

// ExecClient names workflows as Kubernetes does a generateName: five
// random characters after the prefix. KFP's fake counts instead
// ("exit-handler-1" for the second workflow of a sandbox), and a count can
// equal a DAG task's own name (KFP's compiler calls an exit handler's DAG
// "exit-handler-1"), which Argo's node tree then cannot tell apart.
func (c *clientManager) ExecClient() util.ExecutionClient {
	return generatedNames{c.FakeClientManager.ExecClient()}
}

type generatedNames struct{ util.ExecutionClient }

func (g generatedNames) Execution(namespace string) util.ExecutionInterface {
	return generatedName{g.ExecutionClient.Execution(namespace)}
}

type generatedName struct{ util.ExecutionInterface }

func (g generatedName) Create(ctx context.Context, e util.ExecutionSpec, opts metav1.CreateOptions) (util.ExecutionSpec, error) {
	if m := e.ExecutionObjectMeta(); m.Name == "" && m.GenerateName != "" {
		m.Name, m.GenerateName = m.GenerateName+k8srand.String(5), ""
	}
	return g.ExecutionInterface.Create(ctx, e, opts)
}
func (c *clientManager) TokenReviewClient() client.TokenReviewInterface { return c.tokenReview }

// swfFake stands in for the ScheduledWorkflow CRD client. Unlike KFP's fake it
// gives every object its own name and UID, so a sandbox can hold many
// recurring runs. Access is serialised by the sandbox mutex.
type swfFake struct {
	mu    sync.Mutex
	items map[string]*swfapi.ScheduledWorkflow // by namespace/name
	clock util.TimeInterface                   // the sandbox clock, for creation times
}

func (f *swfFake) ScheduledWorkflow(namespace string) swfclient.ScheduledWorkflowInterface {
	return &swfNamespace{f: f, ns: namespace}
}

type swfNamespace struct {
	f  *swfFake
	ns string
}

var _ swfclient.ScheduledWorkflowInterface = (*swfNamespace)(nil)

func notFoundSWF(name string) error {
	return k8errors.NewNotFound(k8schema.ParseGroupResource("scheduledworkflows.kubeflow.org"), name)
}

func (c *swfNamespace) Create(_ context.Context, s *swfapi.ScheduledWorkflow) (*swfapi.ScheduledWorkflow, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	id := uuid.NewString()
	if s.Name == "" {
		s.Name = s.GenerateName + id[:8]
	}
	s.Namespace = c.ns
	s.UID = types.UID(id)
	// Kubernetes keeps creation times to the second; the schedule
	// controller counts from this one.
	s.CreationTimestamp = metav1.NewTime(c.f.clock.Now().Truncate(time.Second))
	key := c.ns + "/" + s.Name
	if _, dup := c.f.items[key]; dup {
		return nil, k8errors.NewAlreadyExists(k8schema.ParseGroupResource("scheduledworkflows.kubeflow.org"), s.Name)
	}
	c.f.items[key] = s
	return s, nil
}

func (c *swfNamespace) Update(_ context.Context, s *swfapi.ScheduledWorkflow) (*swfapi.ScheduledWorkflow, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	key := c.ns + "/" + s.Name
	if _, ok := c.f.items[key]; !ok {
		return nil, notFoundSWF(s.Name)
	}
	c.f.items[key] = s
	return s, nil
}

func (c *swfNamespace) Delete(_ context.Context, name string, _ *metav1.DeleteOptions) error {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	key := c.ns + "/" + name
	if _, ok := c.f.items[key]; !ok {
		return notFoundSWF(name)
	}
	delete(c.f.items, key)
	return nil
}

func (c *swfNamespace) DeleteCollection(context.Context, *metav1.DeleteOptions, metav1.ListOptions) error {
	return fmt.Errorf("sandbox: DeleteCollection of scheduled workflows is not simulated")
}

func (c *swfNamespace) Get(_ context.Context, name string, _ metav1.GetOptions) (*swfapi.ScheduledWorkflow, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	s, ok := c.f.items[c.ns+"/"+name]
	if !ok {
		return nil, notFoundSWF(name)
	}
	return s, nil
}

func (c *swfNamespace) List(context.Context, metav1.ListOptions) (*swfapi.ScheduledWorkflowList, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	l := &swfapi.ScheduledWorkflowList{}
	for k, s := range c.f.items {
		if strings.HasPrefix(k, c.ns+"/") {
			l.Items = append(l.Items, *s)
		}
	}
	return l, nil
}

func (c *swfNamespace) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, fmt.Errorf("sandbox: Watch of scheduled workflows is not simulated")
}

// Patch is how KFP enables and disables a recurring run: it merge-patches
// spec.enabled. The sandbox applies exactly that field and ignores the rest.
func (c *swfNamespace) Patch(_ context.Context, name string, _ types.PatchType, data []byte, _ ...string) (*swfapi.ScheduledWorkflow, error) {
	c.f.mu.Lock()
	defer c.f.mu.Unlock()
	s, ok := c.f.items[c.ns+"/"+name]
	if !ok {
		return nil, notFoundSWF(name)
	}
	switch {
	case strings.Contains(string(data), `"enabled":true`):
		s.Spec.Enabled = true
	case strings.Contains(string(data), `"enabled":false`):
		s.Spec.Enabled = false
	}
	return s, nil
}

// tokenReview is the TokenReview fake. With no tokens configured every
// token is valid and maps to the user "test", like KFP's stock fake; with
// tokens, only those are valid. The agent token is always valid.
type tokenReview struct {
	tokens     map[string]string // token -> user; nil = any token
	agentToken string
}

func (t tokenReview) Create(_ context.Context, r *authv1.TokenReview, _ metav1.CreateOptions) (*authv1.TokenReview, error) {
	out := &authv1.TokenReview{Status: authv1.TokenReviewStatus{Audiences: []string{common.GetTokenReviewAudience()}}}
	user, ok := "test", true
	switch {
	case r.Spec.Token == t.agentToken:
		user = agentUser
	case t.tokens != nil:
		user, ok = t.tokens[r.Spec.Token]
	}
	if !ok {
		out.Status.Audiences = nil
		out.Status.Error = "token is not known to the sandbox"
		return out, nil
	}
	out.Status.Authenticated = true
	out.Status.User = authv1.UserInfo{Username: user}
	return out, nil
}

// accessReview is the SubjectAccessReview fake: a user may act in the
// namespaces the policy lists for them ("*" = every namespace). A nil
// policy allows everyone everywhere, like KFP's stock fake.
type accessReview struct {
	allow map[string][]string
}

func (a accessReview) Create(_ context.Context, r *authzv1.SubjectAccessReview, _ metav1.CreateOptions) (*authzv1.SubjectAccessReview, error) {
	out := &authzv1.SubjectAccessReview{}
	user := r.Spec.User
	ns := ""
	if ra := r.Spec.ResourceAttributes; ra != nil {
		ns = ra.Namespace
	}
	if a.allow == nil || user == agentUser {
		out.Status.Allowed = true
		return out, nil
	}
	for _, n := range a.allow[user] {
		if n == "*" || n == ns {
			out.Status.Allowed = true
			return out, nil
		}
	}
	out.Status.Reason = fmt.Sprintf("sandbox policy does not allow %q in namespace %q", user, ns)
	return out, nil
}
