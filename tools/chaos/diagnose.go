package chaos

import (
	"fmt"
	"slices"
	"strings"

	"github.com/IBM/sarama"

	"github.com/stripeline/stripeline/pkg/kafka"
)

// writerGroup is the event-writers' consumer group (their default).
const writerGroup = "event-writer"

// describeWriterGroup says what the broker thinks of the writers' group: its
// state, each member and its partitions, and each partition's committed
// offset against its high watermark. When writes stop healing, it tells a
// partition nobody consumes from one consumed but not stored.
func describeWriterGroup(brokers []string) string {
	client, err := sarama.NewClient(brokers, kafka.ConsumerSarama("stripeline-chaos", sarama.OffsetOldest))
	if err != nil {
		return "group: " + err.Error()
	}
	defer client.Close()
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return "group: " + err.Error()
	}
	var b strings.Builder
	groups, err := admin.DescribeConsumerGroups([]string{writerGroup})
	if err != nil || len(groups) == 0 {
		fmt.Fprintf(&b, "group %s: %v; ", writerGroup, err)
	} else {
		g := groups[0]
		fmt.Fprintf(&b, "group %s %s, %d members:", writerGroup, g.State, len(g.Members))
		ids := make([]string, 0, len(g.Members))
		for id := range g.Members {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		for _, id := range ids {
			m := g.Members[id]
			var parts []int32
			if a, err := m.GetMemberAssignment(); err == nil && a != nil {
				parts = a.Topics[kafka.DefaultTopic]
			}
			fmt.Fprintf(&b, " [%s %s partitions %v]", short8(id), m.ClientHost, parts)
		}
		b.WriteString("; ")
	}
	partitions, err := client.Partitions(kafka.DefaultTopic)
	if err != nil {
		return b.String() + err.Error()
	}
	offsets, err := admin.ListConsumerGroupOffsets(writerGroup, map[string][]int32{kafka.DefaultTopic: partitions})
	if err != nil {
		return b.String() + err.Error()
	}
	b.WriteString("committed/high:")
	for _, p := range partitions {
		high, _ := client.GetOffset(kafka.DefaultTopic, p, sarama.OffsetNewest)
		committed := int64(-1)
		if blk := offsets.GetBlock(kafka.DefaultTopic, p); blk != nil {
			committed = blk.Offset
		}
		fmt.Fprintf(&b, " p%d %d/%d", p, committed, high)
	}
	return b.String()
}

func short8(s string) string {
	if len(s) > 8 {
		return "…" + s[len(s)-8:]
	}
	return s
}
