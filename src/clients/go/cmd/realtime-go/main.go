// realtime-go calls the hub from Go and prints one JSON object per line:
//
//	realtime-go -server 127.0.0.1:50051 -token $TOKEN fix "text"      # FixText
//	realtime-go -server ... -token ... subscribe topic:news 3          # Subscribe, publish 3, receive 3
//	realtime-go -server ... -token ... error                           # an INVALID_ARGUMENT and its details
//	realtime-go -server ... -ca-file ca.pem [-cert-file c.pem -key-file c.key] ...   # over TLS / mutual TLS
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"realtime.dev/hub/clients/go/realtime"
	realtimev1 "realtime.dev/hub/gen/go/realtime/v1"
)

func main() {
	server := flag.String("server", "127.0.0.1:50051", "the hub's gRPC address")
	token := flag.String("token", os.Getenv("REALTIME_TOKEN"), "bearer token (env REALTIME_TOKEN)")
	timeout := flag.Duration("timeout", 20*time.Second, "deadline for the whole command")
	caFile := flag.String("ca-file", os.Getenv("REALTIME_CA_FILE"), "PEM CA of the hub's TLS certificate; implies TLS (env REALTIME_CA_FILE)")
	certFile := flag.String("cert-file", os.Getenv("REALTIME_CERT_FILE"), "PEM client certificate for mutual TLS (env REALTIME_CERT_FILE)")
	keyFile := flag.String("key-file", os.Getenv("REALTIME_KEY_FILE"), "PEM key of -cert-file (env REALTIME_KEY_FILE)")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var client *realtime.Client
	var err error
	if *caFile != "" || *certFile != "" {
		client, err = realtime.DialTLS(ctx, *server, *token, *caFile, *certFile, *keyFile)
	} else {
		client, err = realtime.Dial(ctx, *server, *token)
	}
	if err != nil {
		fail(err)
	}
	defer client.Close()
	args := flag.Args()
	if len(args) == 0 {
		fail(fmt.Errorf("usage: realtime-go [flags] fix TEXT | subscribe CHANNEL COUNT | error"))
	}
	switch args[0] {
	case "fix":
		err = fix(ctx, client, args[1:])
	case "subscribe":
		err = subscribe(ctx, client, args[1:])
	case "error":
		err = showError(ctx, client)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fail(err)
	}
}

func emit(value map[string]interface{}) {
	line, _ := json.Marshal(value)
	fmt.Println(string(line))
}

func fail(err error) {
	d := realtime.DetailsOf(err)
	fmt.Fprintf(os.Stderr, "%s: %s\n", d.Code, d.Message)
	os.Exit(1)
}

func fix(ctx context.Context, client *realtime.Client, args []string) error {
	if len(args) != 1 {
		return fmt.Errorf("fix TEXT")
	}
	reply, err := client.Text.FixText(ctx, &realtimev1.FixTextRequest{Text: args[0]})
	if err != nil {
		return err
	}
	emit(map[string]interface{}{"fixed": reply.GetFix().GetText(), "suggestions": len(reply.GetFix().GetSuggestions())})
	return nil
}

func subscribe(ctx context.Context, client *realtime.Client, args []string) error {
	if len(args) != 2 {
		return fmt.Errorf("subscribe CHANNEL COUNT")
	}
	channel := args[0]
	count, err := strconv.Atoi(args[1])
	if err != nil || count < 1 || count > 1000 {
		return fmt.Errorf("COUNT must be 1..1000")
	}
	stream, err := client.Notifications.Subscribe(ctx)
	if err != nil {
		return err
	}
	command := &realtimev1.SubscribeRequest{
		Id:      "s1",
		Command: &realtimev1.SubscribeRequest_Subscribe{Subscribe: &realtimev1.SubscribeCommand{Channel: channel}},
	}
	if err := stream.Send(command); err != nil {
		return err
	}
	received, published := 0, false
	for received < count {
		event, err := stream.Recv()
		if err != nil {
			return err
		}
		switch e := event.Event.(type) {
		case *realtimev1.SubscribeResponse_Subscribed:
			if e.Subscribed.GetChannel() != channel || published {
				continue
			}
			emit(map[string]interface{}{"subscribed": channel, "command_id": event.GetCommandId()})
			// Subscribed: now publish, so every publication is one this stream must receive.
			for i := 0; i < count; i++ {
				title := fmt.Sprintf("go %d", i)
				if _, err := client.Notifications.Publish(ctx, &realtimev1.PublishRequest{Channel: channel, Title: title}); err != nil {
					return err
				}
			}
			published = true
		case *realtimev1.SubscribeResponse_Notification:
			if e.Notification.GetChannel() != channel {
				continue
			}
			received++
			emit(map[string]interface{}{"notification": e.Notification.GetTitle(), "offset": e.Notification.GetPosition().GetOffset()})
		case *realtimev1.SubscribeResponse_Error:
			return fmt.Errorf("subscribe refused: %s", e.Error.GetMessage())
		}
	}
	return stream.CloseSend()
}

// showError sends FixText an empty text (INVALID_ARGUMENT) and prints the decoded details.
func showError(ctx context.Context, client *realtime.Client) error {
	_, err := client.Text.FixText(ctx, &realtimev1.FixTextRequest{Text: ""})
	if err == nil {
		return fmt.Errorf("an empty text was accepted")
	}
	d := realtime.DetailsOf(err)
	out := map[string]interface{}{"code": d.Code.String(), "message": d.Message}
	if d.ErrorInfo != nil {
		out["reason"] = d.ErrorInfo.GetReason()
		out["domain"] = d.ErrorInfo.GetDomain()
	}
	if d.BadRequest != nil {
		fields := []string{}
		for _, v := range d.BadRequest.GetFieldViolations() {
			fields = append(fields, v.GetField())
		}
		out["fields"] = fields
	}
	emit(out)
	return nil
}
