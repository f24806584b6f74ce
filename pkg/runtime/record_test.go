package runtime

import (
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/IBM/sarama"

	"github.com/curavani/matching/pkg/events"
	"github.com/curavani/matching/pkg/fault"
)

// A plain record whose content-type header is no media type is poison
// (here: no envelope), and its dead letter must still be a valid
// CloudEvent: the sink refuses an invalid one, and the consumer would retry
// publishing it for ever, stopping the partition. FuzzKafkaRecord found it
// (testdata/fuzz/FuzzKafkaRecord/53221caaa83febb9).
func TestWrapRecord_deadLetterOfARecordWithABrokenContentTypeIsValid(t *testing.T) {
	msg := &sarama.ConsumerMessage{Topic: "patient-events", Partition: 0, Offset: 7, Key: []byte("0"),
		Value:   []byte(`{"0000000":1,"00":1}`),
		Headers: []*sarama.RecordHeader{{Key: []byte("content-type"), Value: []byte(`"`)}}}
	e, err := recordEvent(msg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = events.Decode(e)
	if fault.KindOf(err) != fault.Malformed {
		t.Fatalf("decode: %v, want malformed", err)
	}
	if err := deadLetter(e, msg, events.Rejected, err, 1).Validate(); err != nil {
		t.Fatalf("dead letter invalid: %v", err)
	}
}

// A content type in mixed case is kept in lower case, for a plain record
// and for a binary CloudEvent: the CloudEvents SDK writes the data of
// "AppliCAtiOn/json" as JSON but cannot read such an event back, so its
// dead letter could not be read. FuzzKafkaRecord found it
// (testdata/fuzz/FuzzKafkaRecord/ae01ed71787a5107).
func TestRecordEvent_contentTypeIsKeptInCanonicalForm(t *testing.T) {
	for name, headers := range map[string][]*sarama.RecordHeader{
		"plain record": {{Key: []byte("content-type"), Value: []byte("AppliCAtiOn/json; Charset=UTF-8")}},
		"binary CloudEvent": {{Key: []byte("ce_specversion"), Value: []byte("1.0")}, {Key: []byte("ce_id"), Value: []byte("a")},
			{Key: []byte("ce_source"), Value: []byte("/s")}, {Key: []byte("ce_type"), Value: []byte("patient.deleted")},
			{Key: []byte("content-type"), Value: []byte("AppliCAtiOn/json; Charset=UTF-8")}},
	} {
		t.Run(name, func(t *testing.T) {
			msg := &sarama.ConsumerMessage{Topic: "patient-events", Value: []byte(`{"patient_id":1}`), Headers: headers}
			e, err := recordEvent(msg)
			if err != nil {
				t.Fatal(err)
			}
			if got := e.DataContentType(); got != "application/json; charset=UTF-8" {
				t.Fatalf("content type %q", got)
			}
		})
	}
}

// Decoding a record costs memory in proportion to its size, whatever its
// shape: deep nesting, many keys, long escaped strings, many headers. The
// bound (allocated bytes, deterministic unlike time) is generous; work that
// grew faster than the input would exceed it by far.
func TestDecodeRecord_memoryGrowsWithTheInputOnly(t *testing.T) {
	const size = 1 << 20
	manyKeys := func() string {
		var b strings.Builder
		b.WriteString(`{"eventType":"patient.deleted","payload":{`)
		for i := 0; b.Len() < size; i++ {
			fmt.Fprintf(&b, `"k%d":%d,`, i, i)
		}
		return b.String() + `"patient_id":1}}`
	}
	records := map[string]*sarama.ConsumerMessage{
		"deep nesting": {Value: []byte(`{"eventType":"x","payload":{"a":` + strings.Repeat("[", size/2) + strings.Repeat("]", size/2) + `}}`)},
		"many keys":    {Value: []byte(manyKeys())},
		"nesting just below encoding/json's limit": {Value: []byte(`{"eventType":"x","payload":{"a":` +
			strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}}`)},
		"escapes":      {Value: []byte(`{"eventType":"x","payload":{"a":"` + strings.Repeat(`\u00e4`, size/6) + `"}}`)},
		"one long key": {Key: []byte(strings.Repeat("k", size)), Value: []byte(`{"eventType":"x","payload":{}}`)},
		"many headers": {Value: []byte(`{}`), Headers: func() (hs []*sarama.RecordHeader) {
			for i := range 20000 {
				hs = append(hs, &sarama.RecordHeader{Key: []byte(fmt.Sprintf("ce_x%d", i)), Value: []byte("v")})
			}
			return append(hs, &sarama.RecordHeader{Key: []byte("ce_specversion"), Value: []byte("1.0")})
		}()},
	}
	for name, msg := range records {
		t.Run(name, func(t *testing.T) {
			msg.Topic = "patient-events"
			in := len(msg.Key) + len(msg.Value)
			for _, h := range msg.Headers {
				in += len(h.Key) + len(h.Value)
			}
			var before, after goruntime.MemStats
			goruntime.GC()
			goruntime.ReadMemStats(&before)
			_, err := decodeRecord(msg)
			goruntime.ReadMemStats(&after)
			if a := after.TotalAlloc - before.TotalAlloc; a > uint64(256*in+1<<20) {
				t.Errorf("a record of %d KiB allocates %d KiB to decode", in>>10, a>>10)
			} else {
				t.Logf("%d KiB in, %d KiB allocated, %v", in>>10, a>>10, err)
			}
		})
	}
}
