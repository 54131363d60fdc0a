package build

import (
	"context"
	"strings"
	"testing"
)

func TestCheckPush(t *testing.T) {
	t.Parallel()
	open := newRegistry(t, "", "")
	locked := newRegistry(t, "ci", "s3cret")
	tests := []struct {
		name       string
		o          Options
		wantSource string
		wantErr    string
	}{
		{name: "anonymous registry", o: Options{Repo: open.Host + "/team/ml"}},
		{name: "credentials from env", o: Options{Repo: locked.Host + "/team/ml", Auth: Auth{Username: "ci", Password: "s3cret", Source: "KF_RUN_REGISTRY_USERNAME/PASSWORD"}},
			wantSource: "KF_RUN_REGISTRY_USERNAME/PASSWORD (for " + locked.Host + ")"},
		{name: "wrong password", o: Options{Repo: locked.Host + "/team/ml", Auth: Auth{Username: "ci", Password: "nope", Source: "KF_RUN_REGISTRY_USERNAME/PASSWORD"}},
			wantErr: "registry " + locked.Host + " denied access with the credentials from KF_RUN_REGISTRY_USERNAME/PASSWORD"},
		{name: "no credentials", o: Options{Repo: locked.Host + "/team/ml"},
			wantErr: "registry " + locked.Host + " denied access: no credentials found for it"},
		{name: "no repository", o: Options{}, wantErr: "no image repository"},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				// No docker config of this machine may answer for the registry.
				tt.o.Transport = nil
				src, err := CheckPush(context.Background(), tt.o)
				switch {
				case tt.wantErr == "" && err != nil:
					t.Fatalf("CheckPush: %v", err)
				case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
					t.Fatalf("CheckPush error = %v, want %q", err, tt.wantErr)
				case src != tt.wantSource:
					t.Errorf("source = %q, want %q", src, tt.wantSource)
				}
				if err != nil && strings.Contains(err.Error(), "s3cret") {
					t.Errorf("the password leaked into the error: %v", err)
				}
			})
		}
	})
	if got := open.takeWrites(); len(got) == 0 || !strings.HasPrefix(got[0], "POST /v2/team/ml/blobs/uploads") {
		t.Errorf("registry writes %v, want one upload started and nothing pushed", got)
	}
}
