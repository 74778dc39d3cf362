// Package realtime is a small Go client for the realtime hub: one connection with the bearer
// token on every call, the generated service stubs, and the hub's error details decoded.
//
//	client, err := realtime.Dial(ctx, "127.0.0.1:50051", token)
//	reply, err := client.Text.FixText(ctx, &realtimev1.FixTextRequest{Text: "akuo"})
//	if d := realtime.DetailsOf(err); d.ErrorInfo != nil { fmt.Println(d.ErrorInfo.Reason) }
package realtime

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	realtimev1 "realtime.dev/hub/gen/go/realtime/v1"
)

// Client holds one connection and a stub per service.
type Client struct {
	Conn          *grpc.ClientConn
	Text          realtimev1.TextServiceClient
	Notifications realtimev1.NotificationServiceClient
	Analysis      realtimev1.AnalysisServiceClient
	Collaboration realtimev1.CollaborationServiceClient
	Conversation  realtimev1.ConversationServiceClient
	Diagnostics   realtimev1.DiagnosticsServiceClient
}

// bearer sends `authorization: Bearer <token>` on every call.
type bearer struct {
	token  string
	secure bool
}

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

// RequireTransportSecurity is false only for a plaintext connection the caller asked for
// (the hub's dev default on loopback).
func (b bearer) RequireTransportSecurity() bool { return b.secure }

// Dial connects in plaintext (the hub's dev default on loopback). An empty token sends none.
func Dial(ctx context.Context, target, token string, options ...grpc.DialOption) (*Client, error) {
	return dial(ctx, target, token, grpc.WithInsecure(), options)
}

// DialTLS connects to a hub that speaks TLS (--tls-cert-file): it trusts caFile (PEM; empty: the
// system roots) and, for a hub that requires client certificates (--tls-client-ca-file),
// presents certFile and keyFile (PEM; both or neither). A hub that maps the certificate's
// subject to a user (--tls-client-subjects) accepts an empty token.
func DialTLS(ctx context.Context, target, token, caFile, certFile, keyFile string, options ...grpc.DialOption) (*Client, error) {
	creds, err := TLSCredentials(caFile, certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return dial(ctx, target, token, grpc.WithTransportCredentials(creds), options)
}

func dial(ctx context.Context, target, token string, transport grpc.DialOption, options []grpc.DialOption) (*Client, error) {
	opts := []grpc.DialOption{transport, grpc.WithBlock()}
	if token != "" {
		opts = append(opts, grpc.WithPerRPCCredentials(bearer{token: token}))
	}
	conn, err := grpc.DialContext(ctx, target, append(opts, options...)...)
	if err != nil {
		return nil, err
	}
	return &Client{
		Conn:          conn,
		Text:          realtimev1.NewTextServiceClient(conn),
		Notifications: realtimev1.NewNotificationServiceClient(conn),
		Analysis:      realtimev1.NewAnalysisServiceClient(conn),
		Collaboration: realtimev1.NewCollaborationServiceClient(conn),
		Conversation:  realtimev1.NewConversationServiceClient(conn),
		Diagnostics:   realtimev1.NewDiagnosticsServiceClient(conn),
	}, nil
}

// TLSCredentials are the transport credentials DialTLS uses (see there).
func TLSCredentials(caFile, certFile, keyFile string) (credentials.TransportCredentials, error) {
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		config.RootCAs = roots
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("give the client certificate and its key together")
	}
	if certFile != "" {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(config), nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.Conn.Close() }

// Details are the google.rpc details the hub attaches to an error (grpc-status-details-bin).
type Details struct {
	Code         codes.Code
	Message      string
	ErrorInfo    *errdetails.ErrorInfo
	BadRequest   *errdetails.BadRequest
	RetryInfo    *errdetails.RetryInfo
	QuotaFailure *errdetails.QuotaFailure
}

// DetailsOf decodes the status and details of an error returned by a call (nil: code OK).
func DetailsOf(err error) Details {
	st := status.Convert(err)
	found := Details{Code: st.Code(), Message: st.Message()}
	for _, detail := range st.Details() {
		switch d := detail.(type) {
		case *errdetails.ErrorInfo:
			found.ErrorInfo = d
		case *errdetails.BadRequest:
			found.BadRequest = d
		case *errdetails.RetryInfo:
			found.RetryInfo = d
		case *errdetails.QuotaFailure:
			found.QuotaFailure = d
		}
	}
	return found
}
