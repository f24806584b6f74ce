package runtime

import (
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
