// Command loadgen drives a gRPC server with raw request bytes and prints one JSON object of figures.
//
// It is the load generator of `make bench`: compiled Go uses far less CPU per call than a Python
// client, so on a small machine the server under test keeps most of the cores. Requests are sent
// as opaque bytes (a codec that passes []byte through), so one binary loads the raw grpc.aio echo
// server (/bench.Echo/Unary, /bench.Echo/Bidi) and the hub (DiagnosticsService Echo, EchoStream).
//
//	loadgen -mode unary -target 127.0.0.1:50051 -method /bench.Echo/Unary -payload 0a0378787 -inflight 64
//
// Modes:
//
//	unary      -inflight calls kept going over -conns connections: calls/s, p50/p99 latency
//	pingpong   one bidi stream, one message in flight: round trips/s, p50/p99 latency
//	pipelined  one bidi stream, a writer and a reader at once (at most -window unanswered): msgs/s
//
// Only answers that arrive after -warmup seconds and before the end of -seconds count (`total`
// counts every answer, warmup included, for per-call figures taken around the whole run). The
// figures include this process's own CPU seconds over the measured window, so a bench can say
// how much of the machine the load generator took.
package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
)

// rawCodec sends and receives message bytes unchanged.
type rawCodec struct{}

func (rawCodec) Name() string { return "proto" }

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	m, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*m = append((*m)[:0], data...)
	return nil
}

type config struct {
	mode     string
	target   string
	method   string
	payload  []byte
	token    string
	inflight int
	conns    int
	window   int
	seconds  float64
	warmup   float64
}

// window is the measured interval: answers count only inside [from, to).
type window struct {
	from, to time.Time
}

func (w window) in(t time.Time) bool { return !t.Before(w.from) && t.Before(w.to) }

type result struct {
	Mode          string  `json:"mode"`
	Method        string  `json:"method"`
	Seconds       float64 `json:"seconds"`
	Count         int64   `json:"count"`
	Total         int64   `json:"total"`
	PerSecond     float64 `json:"per_s"`
	P50Ms         float64 `json:"p50_ms"`
	P99Ms         float64 `json:"p99_ms"`
	Errors        int64   `json:"errors"`
	FirstError    string  `json:"first_error,omitempty"`
	Inflight      int     `json:"inflight"`
	Conns         int     `json:"conns"`
	CPUSeconds    float64 `json:"loadgen_cpu_seconds"`
	CPUUsPerCall  float64 `json:"loadgen_cpu_us_per_call"`
	CPUCoresUsed  float64 `json:"loadgen_cores"`
	latencies     []time.Duration
	errorsSeen    int64
	firstErrorMux sync.Mutex
}

func (r *result) fail(err error) {
	if atomic.AddInt64(&r.errorsSeen, 1) == 1 {
		r.firstErrorMux.Lock()
		r.FirstError = err.Error()
		r.firstErrorMux.Unlock()
	}
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

func percentileMs(values []time.Duration, q float64) float64 {
	if len(values) == 0 {
		return 0
	}
	sort.Slice(values, func(i, j int) bool { return values[i] < values[j] })
	i := int(q / 100 * float64(len(values)))
	if i >= len(values) {
		i = len(values) - 1
	}
	return float64(values[i]) / float64(time.Millisecond)
}

func dial(cfg *config) ([]*grpc.ClientConn, error) {
	conns := make([]*grpc.ClientConn, 0, cfg.conns)
	for i := 0; i < cfg.conns; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		// Each Dial is its own connection (grpc-go does not share transports between ClientConns).
		cc, err := grpc.DialContext(ctx, cfg.target, grpc.WithInsecure(), grpc.WithBlock(),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		cancel()
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("dial %s: %w", cfg.target, err)
		}
		conns = append(conns, cc)
	}
	return conns, nil
}

func callContext(cfg *config) context.Context {
	ctx := context.Background()
	if cfg.token != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+cfg.token)
	}
	return ctx
}

// unary keeps cfg.inflight calls going, spread over the connections.
func unary(cfg *config, conns []*grpc.ClientConn, w window, r *result) {
	ctx := callContext(cfg)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := 0; i < cfg.inflight; i++ {
		wg.Add(1)
		go func(cc *grpc.ClientConn) {
			defer wg.Done()
			var reply []byte
			own := make([]time.Duration, 0, 1024)
			for {
				start := time.Now()
				if !start.Before(w.to) {
					break
				}
				err := cc.Invoke(ctx, cfg.method, cfg.payload, &reply)
				end := time.Now()
				if err != nil {
					r.fail(err)
					if !end.Before(w.to) {
						break
					}
					time.Sleep(10 * time.Millisecond) // a failing server: do not spin
					continue
				}
				atomic.AddInt64(&r.Total, 1)
				if w.in(start) && end.Before(w.to) {
					own = append(own, end.Sub(start))
				}
			}
			mu.Lock()
			r.latencies = append(r.latencies, own...)
			mu.Unlock()
		}(conns[i%len(conns)])
	}
	wg.Wait()
	r.Count = int64(len(r.latencies))
}

var bidiDesc = &grpc.StreamDesc{StreamName: "bidi", ServerStreams: true, ClientStreams: true}

// pingpong sends one message, waits for its answer, and again.
func pingpong(cfg *config, cc *grpc.ClientConn, w window, r *result) error {
	ctx, cancel := context.WithCancel(callContext(cfg))
	defer cancel()
	stream, err := cc.NewStream(ctx, bidiDesc, cfg.method)
	if err != nil {
		return err
	}
	var reply []byte
	for {
		start := time.Now()
		if !start.Before(w.to) {
			break
		}
		if err := stream.SendMsg(cfg.payload); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		if err := stream.RecvMsg(&reply); err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		end := time.Now()
		r.Total++
		if w.in(start) && end.Before(w.to) {
			r.latencies = append(r.latencies, end.Sub(start))
		}
	}
	r.Count = int64(len(r.latencies))
	if err := stream.CloseSend(); err != nil {
		return err
	}
	return drain(stream)
}

func drain(stream grpc.ClientStream) error {
	var reply []byte
	for {
		err := stream.RecvMsg(&reply)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// pipelined writes and reads one stream at once, at most cfg.window messages unanswered.
func pipelined(cfg *config, cc *grpc.ClientConn, w window, r *result) error {
	ctx, cancel := context.WithCancel(callContext(cfg))
	defer cancel()
	stream, err := cc.NewStream(ctx, bidiDesc, cfg.method)
	if err != nil {
		return err
	}
	credit := make(chan struct{}, cfg.window)
	for i := 0; i < cfg.window; i++ {
		credit <- struct{}{}
	}
	writeErr := make(chan error, 1)
	go func() {
		for time.Now().Before(w.to) {
			<-credit
			if err := stream.SendMsg(cfg.payload); err != nil {
				writeErr <- fmt.Errorf("send: %w", err)
				return
			}
		}
		writeErr <- stream.CloseSend()
	}()
	var reply []byte
	for {
		err := stream.RecvMsg(&reply)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("receive: %w", err)
		}
		r.Total++
		if w.in(time.Now()) {
			r.Count++
		}
		select {
		case credit <- struct{}{}:
		default:
		}
	}
	return <-writeErr
}

func run(cfg *config) (*result, error) {
	conns, err := dial(cfg)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	r := &result{Mode: cfg.mode, Method: cfg.method, Seconds: cfg.seconds, Inflight: cfg.inflight, Conns: cfg.conns}
	begin := time.Now()
	w := window{
		from: begin.Add(time.Duration(cfg.warmup * float64(time.Second))),
		to:   begin.Add(time.Duration((cfg.warmup + cfg.seconds) * float64(time.Second))),
	}
	cpu := make(chan float64, 1)
	go func() { // the CPU reading at the start of the measured window
		time.Sleep(time.Until(w.from))
		cpu <- cpuSeconds()
	}()
	switch cfg.mode {
	case "unary":
		unary(cfg, conns, w, r)
	case "pingpong":
		err = pingpong(cfg, conns[0], w, r)
	case "pipelined":
		err = pipelined(cfg, conns[0], w, r)
	default:
		err = fmt.Errorf("unknown -mode %q (unary, pingpong, pipelined)", cfg.mode)
	}
	cpuEnd := cpuSeconds()
	if err != nil {
		return nil, err
	}
	r.CPUSeconds = cpuEnd - <-cpu
	r.PerSecond = float64(r.Count) / cfg.seconds
	if r.Count > 0 {
		r.CPUUsPerCall = r.CPUSeconds / float64(r.Count) * 1e6
	}
	r.CPUCoresUsed = r.CPUSeconds / cfg.seconds
	r.P50Ms = percentileMs(r.latencies, 50)
	r.P99Ms = percentileMs(r.latencies, 99)
	r.Errors = atomic.LoadInt64(&r.errorsSeen)
	return r, nil
}

func parseFlags() (*config, error) {
	cfg := &config{}
	var payload string
	flag.StringVar(&cfg.mode, "mode", "unary", "unary, pingpong or pipelined")
	flag.StringVar(&cfg.target, "target", "127.0.0.1:50051", "host:port of the server")
	flag.StringVar(&cfg.method, "method", "", "full method path, e.g. /bench.Echo/Unary")
	flag.StringVar(&payload, "payload", "", "the serialized request: hex, or @FILE for its raw bytes")
	flag.StringVar(&cfg.token, "token", "", "bearer token sent as authorization metadata")
	flag.IntVar(&cfg.inflight, "inflight", 64, "unary: calls in flight")
	flag.IntVar(&cfg.conns, "conns", 4, "unary: connections the calls are spread over")
	flag.IntVar(&cfg.window, "window", 256, "pipelined: most messages sent and not yet answered")
	flag.Float64Var(&cfg.seconds, "seconds", 5, "measured seconds")
	flag.Float64Var(&cfg.warmup, "warmup", 1, "seconds of load before measuring")
	flag.Parse()
	if cfg.method == "" {
		return nil, errors.New("-method is required")
	}
	if cfg.inflight < 1 || cfg.conns < 1 || cfg.window < 1 || cfg.seconds <= 0 || cfg.warmup < 0 {
		return nil, errors.New("-inflight, -conns, -window and -seconds must be positive, -warmup not negative")
	}
	var err error
	if len(payload) > 0 && payload[0] == '@' {
		cfg.payload, err = os.ReadFile(payload[1:])
	} else {
		cfg.payload, err = hex.DecodeString(payload)
	}
	if err != nil {
		return nil, fmt.Errorf("-payload: %w", err)
	}
	if cfg.mode != "unary" {
		cfg.conns = 1
	}
	return cfg, nil
}

func main() {
	cfg, err := parseFlags()
	if err == nil {
		var r *result
		if r, err = run(cfg); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(r)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
