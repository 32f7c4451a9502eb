package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ScanBatch is how many messages one direct get of Scan asks for.
var ScanBatch = 512

// numPendingHeader counts the messages after one of a batched direct get.
const numPendingHeader = "Nats-Num-Pending"

// scanMaxBytes bounds the bytes of one batch, whatever the messages' size.
const scanMaxBytes = 8 << 20

// scanWait bounds the wait for each message of a batch.
const scanWait = 10 * time.Second

// ScanMsg is one message read by Scan.
type ScanMsg struct {
	Subject  string
	Sequence uint64
	Time     time.Time
	Header   nats.Header
	Data     []byte
	Pending  uint64 // messages matching the filter after this one
}

// Scan calls fn with every message of stream whose subject matches filter,
// in stream order, from sequence from on and up to through (0: until none
// is left), by batched direct gets. It needs no consumer, so a client that
// may only read a stream (stream info and direct gets) can scan it; the
// stream must allow direct gets (every jetsync stream does, from
// nats-server 2.11). A message removed while the scan runs is skipped.
func Scan(ctx context.Context, nc *nats.Conn, stream, filter string, from, through uint64, fn func(*ScanMsg) error) error {
	sub, err := nc.SubscribeSync(nc.NewInbox())
	if err != nil {
		return fmt.Errorf("scan %s: %w", stream, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	for seq := max(from, 1); ; {
		next, more, err := scanBatch(ctx, nc, sub, stream, filter, seq, through, fn)
		if err != nil || !more {
			return err
		}
		seq = next
	}
}

type directGet struct {
	Seq      uint64 `json:"seq"`
	NextFor  string `json:"next_by_subj"`
	Batch    int    `json:"batch"`
	MaxBytes int    `json:"max_bytes"`
}

// scanBatch asks for one batch from seq on and hands its messages to fn.
// It returns where the next batch starts and whether one is needed.
func scanBatch(ctx context.Context, nc *nats.Conn, sub *nats.Subscription, stream, filter string, seq, through uint64,
	fn func(*ScanMsg) error) (uint64, bool, error) {
	req, err := json.Marshal(directGet{Seq: seq, NextFor: filter, Batch: ScanBatch, MaxBytes: scanMaxBytes})
	if err != nil {
		return 0, false, err
	}
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, sub.Subject, req); err != nil {
		return 0, false, fmt.Errorf("scan %s: %w", stream, err)
	}
	for {
		wctx, cancel := context.WithTimeout(ctx, scanWait)
		m, err := sub.NextMsgWithContext(wctx)
		cancel()
		if err != nil {
			return 0, false, fmt.Errorf("scan %s from sequence %d: %w", stream, seq, err)
		}
		switch status := m.Header.Get("Status"); status {
		case "":
		case "204": // end of batch
			pending, _ := strconv.ParseUint(m.Header.Get(numPendingHeader), 10, 64)
			last, _ := strconv.ParseUint(m.Header.Get(jetstream.LastSequenceHeader), 10, 64)
			done := pending == 0 || last < seq || through > 0 && last >= through
			return last + 1, !done, nil
		case "404":
			return 0, false, nil
		default:
			return 0, false, fmt.Errorf("scan %s: %s %s", stream, status, m.Header.Get("Description"))
		}
		sm, err := scanMsg(m)
		if err != nil {
			return 0, false, fmt.Errorf("scan %s: %w", stream, err)
		}
		if through > 0 && sm.Sequence > through {
			continue // the rest of the batch lies past the end
		}
		if err := fn(sm); err != nil {
			return 0, false, err
		}
	}
}

func scanMsg(m *nats.Msg) (*ScanMsg, error) {
	seq, err := strconv.ParseUint(m.Header.Get(jetstream.SequenceHeader), 10, 64)
	if err != nil {
		return nil, errors.New("message without a sequence")
	}
	t, _ := time.Parse(time.RFC3339Nano, m.Header.Get(jetstream.TimeStampHeaer))
	pending, _ := strconv.ParseUint(m.Header.Get(numPendingHeader), 10, 64)
	sm := &ScanMsg{Subject: m.Header.Get(jetstream.SubjectHeader), Sequence: seq, Time: t, Data: m.Data,
		Pending: pending, Header: m.Header}
	return sm, nil
}
