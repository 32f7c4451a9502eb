package wire

import (
	"encoding/binary"
	"fmt"
)

// Content requests and replies: how a replica asks a folder's source for
// chunks it has neither locally nor in the content cache (NATS
// request-reply on ContentSubject, served as a `micro` service).
//
// Request: version byte (1), kind byte, uvarint path length, the path,
// uvarint reply limit in bytes, uvarint count (1..MaxContentHashes), then
// count 32-byte hashes. The path names the file whose record listed the
// hashes: the source reads them from that file where its index places
// them, so it serves nothing but content it published.
//
// Reply: version byte (1), uvarint count (the request's), then per hash a
// status byte and, for ContentOK, a uvarint length and a chunk payload
// (see EncodeChunk), whose hash the requester verifies.
const ContentVersion = 1

// Kinds of content request.
const (
	// ContentChunks asks for chunks of the file's content.
	ContentChunks byte = 0
	// ContentManifest asks for manifest blobs of the file's chunk list.
	ContentManifest byte = 1
)

// Statuses of one hash in a content reply.
const (
	// ContentOK: the chunk payload follows.
	ContentOK byte = 0
	// ContentGone: the source no longer has this content at this path; a
	// newer state of the path is on its way (or already published).
	ContentGone byte = 1
	// ContentLater: it did not fit in this reply; ask again.
	ContentLater byte = 2
)

const (
	// MaxContentHashes bounds the hashes of one request.
	MaxContentHashes = 64
	// MinContentReply is the smallest reply limit a request may set: the
	// largest manifest blob (16,384 entries) fits, and so does the
	// chunker's largest chunk; the first item of a reply is sent whatever
	// the limit.
	MinContentReply = 640 << 10
)

// ContentRequest asks a source for content of one file.
type ContentRequest struct {
	Kind   byte
	Path   string
	Limit  int // largest reply the requester accepts, in bytes
	Hashes []Hash
}

// ContentItem is one hash's answer.
type ContentItem struct {
	Status  byte
	Payload []byte // chunk payload when Status is ContentOK; aliases the reply
}

// EncodeContentRequest returns the wire form of r.
func EncodeContentRequest(r ContentRequest) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, fmt.Errorf("encode content request: %w", err)
	}
	b := make([]byte, 0, 16+len(r.Path)+32*len(r.Hashes))
	b = append(b, ContentVersion, r.Kind)
	b = binary.AppendUvarint(b, uint64(len(r.Path)))
	b = append(b, r.Path...)
	b = binary.AppendUvarint(b, uint64(r.Limit))
	b = binary.AppendUvarint(b, uint64(len(r.Hashes)))
	for _, h := range r.Hashes {
		b = append(b, h[:]...)
	}
	return b, nil
}

func (r ContentRequest) validate() error {
	switch {
	case r.Kind != ContentChunks && r.Kind != ContentManifest:
		return fmt.Errorf("%w: content request kind %d", ErrMalformed, r.Kind)
	case len(r.Hashes) == 0 || len(r.Hashes) > MaxContentHashes:
		return fmt.Errorf("%w: content request for %d hashes", ErrMalformed, len(r.Hashes))
	case r.Limit < MinContentReply:
		return fmt.Errorf("%w: content reply limit %d below %d", ErrMalformed, r.Limit, MinContentReply)
	}
	return ValidPath(r.Path)
}

// DecodeContentRequest parses and validates a content request.
func DecodeContentRequest(b []byte) (ContentRequest, error) {
	d := contentDecoder{b: b}
	var r ContentRequest
	if v := d.byte(); v != ContentVersion && d.err == nil {
		return r, fmt.Errorf("%w: content request version %d", ErrVersion, v)
	}
	r.Kind = d.byte()
	r.Path = string(d.bytes(d.uvarint(MaxPathLen)))
	r.Limit = int(d.uvarint(1 << 30))
	n := d.uvarint(MaxContentHashes)
	for range n {
		if h := d.bytes(32); h != nil {
			r.Hashes = append(r.Hashes, Hash(h))
		}
	}
	if err := d.end(); err != nil {
		return ContentRequest{}, fmt.Errorf("decode content request: %w", err)
	}
	if err := r.validate(); err != nil {
		return ContentRequest{}, fmt.Errorf("decode content request: %w", err)
	}
	return r, nil
}

// AppendContentReplyHeader starts a reply of n items.
func AppendContentReplyHeader(dst []byte, n int) []byte {
	return binary.AppendUvarint(append(dst, ContentVersion), uint64(n))
}

// AppendContentItem appends one item to a reply.
func AppendContentItem(dst []byte, status byte, payload []byte) []byte {
	dst = append(dst, status)
	if status != ContentOK {
		return dst
	}
	return append(binary.AppendUvarint(dst, uint64(len(payload))), payload...)
}

// DecodeContentReply parses a reply to a request for want hashes. Payloads
// alias b and are not verified here: DecodeChunk checks each against its
// hash.
func DecodeContentReply(b []byte, want int) ([]ContentItem, error) {
	d := contentDecoder{b: b}
	if v := d.byte(); v != ContentVersion && d.err == nil {
		return nil, fmt.Errorf("%w: content reply version %d", ErrVersion, v)
	}
	n := int(d.uvarint(MaxContentHashes))
	if d.err == nil && n != want {
		return nil, fmt.Errorf("%w: content reply of %d items for %d hashes", ErrMalformed, n, want)
	}
	items := make([]ContentItem, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		it := ContentItem{Status: d.byte()}
		switch it.Status {
		case ContentOK:
			it.Payload = d.bytes(d.uvarint(uint64(PayloadCap(MaxChunkLen))))
		case ContentGone, ContentLater:
		default:
			d.fail("content status %d", it.Status)
		}
		items = append(items, it)
	}
	if err := d.end(); err != nil {
		return nil, fmt.Errorf("decode content reply: %w", err)
	}
	return items, nil
}

// contentDecoder reads the binary content messages, remembering the first
// error; every length is bounded before anything is allocated for it.
type contentDecoder struct {
	b   []byte
	err error
}

func (d *contentDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
}

func (d *contentDecoder) byte() byte {
	if d.err != nil || len(d.b) == 0 {
		d.fail("truncated")
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *contentDecoder) uvarint(limit uint64) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad length")
		return 0
	}
	if v > limit {
		d.fail("length %d over %d", v, limit)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *contentDecoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if uint64(len(d.b)) < n {
		d.fail("truncated")
		return nil
	}
	out := d.b[:n:n]
	d.b = d.b[n:]
	return out
}

func (d *contentDecoder) end() error {
	if d.err == nil && len(d.b) != 0 {
		d.fail("%d trailing bytes", len(d.b))
	}
	return d.err
}
