// Command subscribers opens many server-push streams and measures fan-out latency (or just holds
// them open, for a memory figure). It is the client side of bench/bench_fanout.py: a Go client
// keeps the client's own cost low, so the figures measure the server.
//
// Modes:
//
//	hub: NotificationService.Subscribe streams (the hub subscribes each to `general` and
//	     `user:{id}` and answers with two `subscribed` events); a round is one Publish to
//	     `general` with the admin token.
//	raw: /bench.Push/Subscribe on bench/raw_push.py (one `subscribed` event once open); a round
//	     is one /bench.Push/Trigger call, after which the server writes the same bytes to every
//	     stream.
//
// Streams are spread round-robin over -conns connections (each its own TCP connection) and opened
// -batch at a time (each batch waits for its streams to be answered), so opening is not a
// reconnect storm. When all are open it prints {"event":"open",...} on stdout. Then with
// -rounds > 0 it runs the rounds: the time of each stream's receipt relative to the start of the
// Publish/Trigger call, per round p50/p99/max and the medians over rounds, printed as one JSON
// line ({"event":"result",...}). With -hold it waits for a line on stdin before the rounds (the
// caller reads the server's memory first) and keeps the streams open until stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	realtimev1 "realtime.dev/hub/gen/go/realtime/v1"
)

type options struct {
	target  string
	mode    string
	streams int
	conns   int
	batch   int
	rounds  int
	tokens  string
	admin   string
	channel string
	hold    bool
	pause   time.Duration
	timeout time.Duration
}

// fanout holds the open streams and the state of the current round.
type fanout struct {
	opts     options
	conns    []*grpc.ClientConn
	start    int64 // UnixNano of the current round's publish call; 0 between rounds
	receipts chan time.Duration
	failed   int64
	lastErr  atomic.Value
}

func main() {
	var o options
	flag.StringVar(&o.target, "target", "127.0.0.1:50051", "server address")
	flag.StringVar(&o.mode, "mode", "hub", "hub (NotificationService) or raw (bench/raw_push.py)")
	flag.IntVar(&o.streams, "streams", 1000, "streams to open")
	flag.IntVar(&o.conns, "conns", 100, "client connections the streams are spread over")
	flag.IntVar(&o.batch, "batch", 200, "streams opened at a time")
	flag.IntVar(&o.rounds, "rounds", 5, "publish rounds to measure (0: none)")
	flag.StringVar(&o.tokens, "tokens", "", "file of bearer tokens, one a line; stream i uses line i mod count (hub)")
	flag.StringVar(&o.admin, "admin", "", "bearer token for Publish (hub)")
	flag.StringVar(&o.channel, "channel", "general", "channel to publish to (hub)")
	flag.BoolVar(&o.hold, "hold", false, "wait for a line on stdin before the rounds, and keep the streams open until stdin closes")
	flag.DurationVar(&o.pause, "pause", 300*time.Millisecond, "quiet time before each round")
	flag.DurationVar(&o.timeout, "timeout", 120*time.Second, "longest wait for one round or one batch")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "subscribers:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	tokens, err := readTokens(o)
	if err != nil {
		return err
	}
	f := &fanout{opts: o, receipts: make(chan time.Duration, o.streams)}
	for i := 0; i < o.conns; i++ {
		conn, err := grpc.Dial(o.target, grpc.WithInsecure(),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(8<<20)))
		if err != nil {
			return err
		}
		defer conn.Close()
		f.conns = append(f.conns, conn)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	began := time.Now()
	if err := f.open(ctx, tokens); err != nil {
		return err
	}
	emit(map[string]interface{}{
		"event": "open", "streams": o.streams, "conns": o.conns,
		"open_seconds": time.Since(began).Seconds(),
	})
	if o.hold && o.rounds > 0 { // the caller reads the server's memory, then says go
		if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
			return nil
		}
	}
	if o.rounds > 0 {
		result, err := f.measure(ctx)
		if err != nil {
			return err
		}
		emit(result)
	}
	if o.hold {
		_, _ = io.Copy(io.Discard, os.Stdin)
	}
	return nil
}

func readTokens(o options) ([]string, error) {
	if o.mode != "hub" {
		return nil, nil
	}
	data, err := os.ReadFile(o.tokens)
	if err != nil {
		return nil, fmt.Errorf("hub mode needs -tokens: %w", err)
	}
	var tokens []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			tokens = append(tokens, line)
		}
	}
	if len(tokens) == 0 || o.admin == "" {
		return nil, fmt.Errorf("hub mode needs tokens in %s and -admin", o.tokens)
	}
	return tokens, nil
}

func emit(v interface{}) {
	out, _ := json.Marshal(v)
	fmt.Println(string(out))
}

// open opens the streams batch by batch; each stream's goroutine reads its opening events, says
// so on `opened`, then reads pushed events for good.
func (f *fanout) open(ctx context.Context, tokens []string) error {
	for base := 0; base < f.opts.streams; base += f.opts.batch {
		end := base + f.opts.batch
		if end > f.opts.streams {
			end = f.opts.streams
		}
		opened := make(chan error, end-base)
		for i := base; i < end; i++ {
			stream, err := f.stream(ctx, i, tokens)
			if err != nil {
				return fmt.Errorf("stream %d: %w", i, err)
			}
			go f.read(stream, opened)
		}
		timer := time.NewTimer(f.opts.timeout)
		for i := base; i < end; i++ {
			select {
			case err := <-opened:
				if err != nil {
					timer.Stop()
					return fmt.Errorf("opening: %w", err)
				}
			case <-timer.C:
				return fmt.Errorf("streams %d-%d not open after %s", base, end, f.opts.timeout)
			}
		}
		timer.Stop()
	}
	return nil
}

func (f *fanout) stream(ctx context.Context, i int, tokens []string) (grpc.ClientStream, error) {
	conn := f.conns[i%len(f.conns)]
	if f.opts.mode == "hub" {
		md := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tokens[i%len(tokens)])
		return realtimev1.NewNotificationServiceClient(conn).Subscribe(md)
	}
	desc := &grpc.StreamDesc{StreamName: "Subscribe", ServerStreams: true, ClientStreams: true}
	return conn.NewStream(ctx, desc, "/bench.Push/Subscribe")
}

// read consumes one stream: the opening events (two `subscribed` on the hub, one on raw), then
// notifications, each timed against the current round's start.
func (f *fanout) read(stream grpc.ClientStream, opened chan<- error) {
	want := 1
	if f.opts.mode == "hub" {
		want = 2
	}
	for {
		msg := new(realtimev1.SubscribeResponse)
		if err := stream.RecvMsg(msg); err != nil {
			if want > 0 {
				opened <- err
				return
			}
			atomic.AddInt64(&f.failed, 1)
			f.lastErr.Store(err.Error())
			return
		}
		now := time.Now()
		if want > 0 {
			if msg.GetSubscribed() != nil {
				want--
				if want == 0 {
					opened <- nil
				}
			}
			continue
		}
		if msg.GetNotification() == nil {
			continue // not part of the figure (pong, presence, ...)
		}
		if start := atomic.LoadInt64(&f.start); start != 0 {
			f.receipts <- now.Sub(time.Unix(0, start))
		}
	}
}

type round struct {
	P50 float64 `json:"p50_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

func (f *fanout) measure(ctx context.Context) (map[string]interface{}, error) {
	var rounds []round
	for r := 0; r < f.opts.rounds; r++ {
		time.Sleep(f.opts.pause) // let the previous round's writes settle (a quiet start)
		got, err := f.round(ctx)
		if err != nil {
			return nil, fmt.Errorf("round %d: %w", r, err)
		}
		rounds = append(rounds, got)
	}
	return map[string]interface{}{
		"event":   "result",
		"streams": f.opts.streams,
		"rounds":  rounds,
		"p50_ms":  median(rounds, func(x round) float64 { return x.P50 }),
		"p99_ms":  median(rounds, func(x round) float64 { return x.P99 }),
		"max_ms":  median(rounds, func(x round) float64 { return x.Max }),
		"failed":  atomic.LoadInt64(&f.failed),
	}, nil
}

func (f *fanout) round(ctx context.Context) (round, error) {
	started := time.Now()
	atomic.StoreInt64(&f.start, started.UnixNano())
	defer atomic.StoreInt64(&f.start, 0)
	if err := f.trigger(ctx); err != nil {
		return round{}, err
	}
	lat := make([]float64, 0, f.opts.streams)
	timer := time.NewTimer(f.opts.timeout)
	defer timer.Stop()
	for len(lat) < f.opts.streams {
		select {
		case d := <-f.receipts:
			lat = append(lat, float64(d)/float64(time.Millisecond))
		case <-timer.C:
			reason, _ := f.lastErr.Load().(string)
			return round{}, fmt.Errorf("%d of %d streams got the message (%d streams failed: %s)",
				len(lat), f.opts.streams, atomic.LoadInt64(&f.failed), reason)
		}
	}
	sort.Float64s(lat)
	return round{P50: pick(lat, 50), P99: pick(lat, 99), Max: lat[len(lat)-1]}, nil
}

func (f *fanout) trigger(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := &realtimev1.PublishRequest{Channel: f.opts.channel, Title: "fan-out"}
	if f.opts.mode == "hub" {
		md := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+f.opts.admin)
		_, err := realtimev1.NewNotificationServiceClient(f.conns[0]).Publish(md, req)
		return err
	}
	return f.conns[0].Invoke(ctx, "/bench.Push/Trigger", req, new(realtimev1.PublishResponse))
}

func pick(sorted []float64, q int) float64 {
	i := q * len(sorted) / 100
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return sorted[i]
}

func median(rounds []round, field func(round) float64) float64 {
	values := make([]float64, len(rounds))
	for i, r := range rounds {
		values[i] = field(r)
	}
	sort.Float64s(values)
	return values[len(values)/2]
}
