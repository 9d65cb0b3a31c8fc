package kafka

import (
	"fmt"

	"github.com/IBM/sarama"
)

// GroupState is what a group's coordinator says of it.
type GroupState struct {
	// State is Kafka's: "Empty" (no members; its committed offsets stay),
	// "PreparingRebalance", "CompletingRebalance", "Stable", or "Dead" (the
	// group does not exist, or is being removed).
	State   string
	Members int
}

// Empty reports whether the group has no members: nobody consumes with it.
func (s GroupState) Empty() bool {
	return s.Members == 0 && (s.State == "Empty" || s.State == "Dead")
}

// DescribeGroups is the state of each of groups, from their coordinators.
func (a *Admin) DescribeGroups(groups ...string) (map[string]GroupState, error) {
	out := make(map[string]GroupState, len(groups))
	if len(groups) == 0 {
		return out, nil
	}
	descs, err := a.admin.DescribeConsumerGroups(groups)
	if err != nil {
		return nil, fmt.Errorf("describe groups: %w", err)
	}
	for _, d := range descs {
		if d.Err != sarama.ErrNoError && d.Err != sarama.ErrGroupIDNotFound {
			return nil, fmt.Errorf("describe group %s: %w", d.GroupId, d.Err)
		}
		out[d.GroupId] = GroupState{State: d.State, Members: len(d.Members)}
	}
	return out, nil
}
