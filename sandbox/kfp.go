package sandbox

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/golang/glog"
	"github.com/gorilla/mux"
	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	apiv1beta1 "github.com/kubeflow/pipelines/backend/api/v1beta1/go_client"
	apiv2beta1 "github.com/kubeflow/pipelines/backend/api/v2beta1/go_client"
	"github.com/kubeflow/pipelines/backend/src/apiserver/auth"
	"github.com/kubeflow/pipelines/backend/src/apiserver/common"
	"github.com/kubeflow/pipelines/backend/src/apiserver/resource"
	"github.com/kubeflow/pipelines/backend/src/apiserver/server"
	"github.com/kubeflow/pipelines/backend/src/common/util"
	swfapi "github.com/kubeflow/pipelines/backend/src/crd/pkg/apis/scheduledworkflow/v1beta1"
	"github.com/spf13/viper"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
)

// kfp is KFP's API server as its main.go wires it, minus the pieces that
// need a cluster (visualization, metrics, the v1alpha1 log endpoint).
type kfp struct {
	cm      *clientManager
	rm      *resource.ResourceManager
	report  *server.ReportServer
	grpc    *grpc.Server
	conn    *grpc.ClientConn
	handler http.Handler // the top-level router, unguarded
	cancel  context.CancelFunc
}

// configureViper sets the keys KFP reads from its global viper config.
// viper is process-wide: keys are only written when they differ, so
// sandboxes of the same mode can start while others serve requests.
// AutomaticEnv is never enabled, so the environment cannot leak in.
func configureViper(o *Options) {
	set := func(k, v string) {
		if !viper.IsSet(k) || viper.GetString(k) != v {
			viper.Set(k, v)
		}
	}
	set("POD_NAMESPACE", o.Namespace)
	set(common.MultiUserMode, strconv.FormatBool(o.MultiUser))
	set("KUBEFLOW_USERID_HEADER", o.UserIDHeader)
	set("KUBEFLOW_USERID_PREFIX", "")
	set("COMMIT_SHA", "kfp-sandbox")
	set("TAG_NAME", "2.0.5")
}

func newKFP(o *Options, clock util.TimeInterface, agentToken string) (*kfp, error) {
	configureViper(o)
	fake, err := resource.NewFakeClientManager(clock, util.NewUUIDGenerator())
	if err != nil {
		return nil, fmt.Errorf("kfp client manager: %w", err)
	}
	// ":memory:" is per connection: a second pooled connection would see an
	// empty database.
	fake.DB().SetMaxOpenConns(1)
	var tokens map[string]string
	if len(o.Tokens) > 0 {
		tokens = o.Tokens
	}
	tr := tokenReview{tokens: tokens, agentToken: agentToken}
	fake.SubjectAccessReviewClientFake = accessReview{allow: o.Allow}
	fake.AuthenticatorsFake = auth.GetAuthenticators(tr)
	cm := &clientManager{FakeClientManager: fake, swf: &swfFake{items: map[string]*swfapi.ScheduledWorkflow{}, clock: clock}, tokenReview: tr}
	rm := resource.NewResourceManager(cm, &resource.ResourceManagerOptions{CollectMetrics: false})
	if !o.MultiUser {
		if _, err := rm.CreateDefaultExperiment(""); err != nil {
			return nil, fmt.Errorf("kfp default experiment: %w", err)
		}
	}

	k := &kfp{cm: cm, rm: rm, report: server.NewReportServer(rm)}
	k.grpc = grpc.NewServer(grpc.UnaryInterceptor(errorInterceptor), grpc.MaxRecvMsgSize(math.MaxInt32))
	experiments := server.NewExperimentServer(rm, &server.ExperimentServerOptions{})
	pipelines := server.NewPipelineServer(rm, &server.PipelineServerOptions{})
	jobs := server.NewJobServer(rm, &server.JobServerOptions{})
	runs := server.NewRunServer(rm, &server.RunServerOptions{})
	apiv1beta1.RegisterExperimentServiceServer(k.grpc, experiments)
	apiv1beta1.RegisterPipelineServiceServer(k.grpc, pipelines)
	apiv1beta1.RegisterJobServiceServer(k.grpc, jobs)
	apiv1beta1.RegisterRunServiceServer(k.grpc, runs)
	apiv1beta1.RegisterTaskServiceServer(k.grpc, server.NewTaskServer(rm))
	apiv1beta1.RegisterReportServiceServer(k.grpc, k.report)
	apiv1beta1.RegisterAuthServiceServer(k.grpc, server.NewAuthServer(rm))
	apiv2beta1.RegisterExperimentServiceServer(k.grpc, experiments)
	apiv2beta1.RegisterPipelineServiceServer(k.grpc, pipelines)
	apiv2beta1.RegisterRecurringRunServiceServer(k.grpc, jobs)
	apiv2beta1.RegisterRunServiceServer(k.grpc, runs)

	// gRPC over an in-memory listener: grpc-gateway v1 has no in-process
	// server registration, and a second TCP port is not needed.
	lis := bufconn.Listen(1 << 20)
	go func() {
		if err := k.grpc.Serve(lis); err != nil {
			glog.Errorf("sandbox gRPC server: %v", err)
		}
	}()
	k.conn, err = grpc.NewClient("passthrough:///kfp-sandbox",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(math.MaxInt32)))
	if err != nil {
		k.grpc.Stop()
		return nil, fmt.Errorf("kfp gRPC client: %w", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	k.cancel = cancel
	header := o.UserIDHeader
	gw := runtime.NewServeMux(runtime.WithIncomingHeaderMatcher(func(key string) (string, bool) {
		return strings.ToLower(key), strings.EqualFold(key, header)
	}))
	for _, reg := range []func(context.Context, *runtime.ServeMux, *grpc.ClientConn) error{
		apiv1beta1.RegisterPipelineServiceHandler,
		apiv1beta1.RegisterExperimentServiceHandler,
		apiv1beta1.RegisterJobServiceHandler,
		apiv1beta1.RegisterRunServiceHandler,
		apiv1beta1.RegisterTaskServiceHandler,
		apiv1beta1.RegisterReportServiceHandler,
		apiv1beta1.RegisterAuthServiceHandler,
		apiv2beta1.RegisterExperimentServiceHandler,
		apiv2beta1.RegisterPipelineServiceHandler,
		apiv2beta1.RegisterRecurringRunServiceHandler,
		apiv2beta1.RegisterRunServiceHandler,
	} {
		if err := reg(ctx, gw, k.conn); err != nil {
			k.close()
			return nil, fmt.Errorf("kfp gateway: %w", err)
		}
	}

	upload := server.NewPipelineUploadServer(rm, &server.PipelineUploadServerOptions{})
	r := mux.NewRouter()
	r.HandleFunc("/apis/v1beta1/pipelines/upload", upload.UploadPipelineV1)
	r.HandleFunc("/apis/v1beta1/pipelines/upload_version", upload.UploadPipelineVersionV1)
	r.HandleFunc("/apis/v1beta1/healthz", healthz)
	r.HandleFunc("/apis/v2beta1/pipelines/upload", upload.UploadPipeline)
	r.HandleFunc("/apis/v2beta1/pipelines/upload_version", upload.UploadPipelineVersion)
	r.HandleFunc("/apis/v2beta1/healthz", healthz)
	r.PathPrefix("/apis/").Handler(gw)
	k.handler = r
	return k, nil
}

// healthz writes the same bytes as KFP 2.0.5's healthz (hand-built JSON,
// note the spaces), so clients see what a real server sends.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"commit_sha":"%s", "tag_name":"%s", "multi_user":%t}`,
		common.GetStringConfigWithDefault("COMMIT_SHA", "unknown"),
		common.GetStringConfigWithDefault("TAG_NAME", "unknown"),
		common.IsMultiUserMode())
}

// errorInterceptor reproduces KFP's apiServerInterceptor (package main, so
// it cannot be imported): without it every error reaches the gateway as
// codes.Unknown, i.e. HTTP 500.
// It also turns a panic in KFP's code into an Internal error instead of
// killing the process.
func errorInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			glog.Errorf("%s panicked: %v", info.FullMethod, p)
			resp, err = nil, util.ToGRPCError(util.NewInternalServerError(fmt.Errorf("panic: %v", p), "%s failed", info.FullMethod))
		}
	}()
	resp, err = h(ctx, req)
	if err != nil {
		util.LogError(util.Wrapf(err, "%s call failed", info.FullMethod))
		return resp, util.ToGRPCError(err)
	}
	return resp, nil
}

func (k *kfp) close() {
	k.cancel()
	if k.conn != nil {
		k.conn.Close()
	}
	k.grpc.Stop()
	k.cm.Close()
}
