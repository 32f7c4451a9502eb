// Package ratelimit holds content transfers to a number of bytes per
// second (--max-rate). It is a token bucket whose bursts are small (a
// tenth of a second's worth, at least one chunk), so that the average over
// a few seconds is the limit. Callers take bytes BEFORE they ask for or
// read them, so the bytes on the link, not only their processing, are
// limited; what then actually moved is settled afterwards.
package ratelimit
