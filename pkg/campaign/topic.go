package campaign

import (
	"fmt"
	"time"

	"github.com/IBM/sarama"
)

// record is one record read back from a topic.
type record struct {
	ID, Type, Key string
	Partition     int32
	Offset        int64
}

// readTopic reads every record of topic from the beginning up to the high
// water marks it finds when it starts.
func readTopic(brokers []string, topic string) ([]record, error) {
	cfg := producerConfig()
	c, err := sarama.NewClient(brokers, cfg)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		return nil, err
	}
	cons, err := sarama.NewConsumerFromClient(c)
	if err != nil {
		return nil, err
	}
	defer cons.Close()
	var out []record
	for _, p := range parts {
		hw, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, err
		}
		if hw == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, err
		}
		for {
			var m *sarama.ConsumerMessage
			select {
			case m = <-pc.Messages():
			case <-time.After(30 * time.Second):
				pc.Close()
				return nil, fmt.Errorf("%s[%d]: no record for 30 s before offset %d", topic, p, hw)
			}
			r := record{Key: string(m.Key), Partition: m.Partition, Offset: m.Offset}
			for _, h := range m.Headers {
				switch string(h.Key) {
				case "ce_id":
					r.ID = string(h.Value)
				case "ce_type":
					r.Type = string(h.Value)
				}
			}
			out = append(out, r)
			if m.Offset >= hw-1 {
				break
			}
		}
		pc.Close()
	}
	return out, nil
}
