package chaos

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Kind is what a fault does.
type Kind string

// The faults of a run.
const (
	KillService   Kind = "kill"       // SIGKILL a service, restart it after Down
	RestartBroker Kind = "restart"    // SIGKILL the broker process, restart it on its data folder after Down
	CutPostgres   Kind = "cut"        // cut PostgreSQL off the writers for Down
	Duplicates    Kind = "duplicates" // send already-accepted events again
	// CrashLoop kills a service, restarts it, kills it again within two
	// seconds of ready (mid consumer-group join) and restarts it. Opt-in
	// through Config.Only ("crashloop event-writer-1").
	CrashLoop Kind = "crashloop"
)

// Fault is one planned break.
type Fault struct {
	Kind   Kind
	Target string        // the component: "webhook-ingest", "event-writer-1", …, "broker", "postgres"
	At     time.Duration // since the stream started: not before this
	Down   time.Duration // how long the target stays broken
	Count  int           // Duplicates: how many events are re-sent
}

func (f Fault) String() string {
	if f.Kind == Duplicates {
		return fmt.Sprintf("%s ×%d", f.Kind, f.Count)
	}
	return string(f.Kind) + " " + f.Target
}

// Schedule is the faults of a run in order, derived from the seed alone:
// every fault once per round, in a shuffled order, spread over the stream.
func Schedule(cfg Config) []Fault {
	cfg.setDefaults()
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xfa17))
	var kinds []Fault
	kinds = append(kinds, Fault{Kind: KillService, Target: "webhook-ingest"})
	for i := 1; i <= cfg.Writers; i++ {
		kinds = append(kinds, Fault{Kind: KillService, Target: fmt.Sprintf("event-writer-%d", i)})
	}
	for i := 1; i <= cfg.Notifiers; i++ {
		kinds = append(kinds, Fault{Kind: KillService, Target: fmt.Sprintf("notifier-%d", i)})
	}
	kinds = append(kinds,
		Fault{Kind: RestartBroker, Target: "broker"},
		Fault{Kind: CutPostgres, Target: "postgres"},
		Fault{Kind: Duplicates, Target: "webhook-ingest"},
	)
	if len(cfg.Only) > 0 {
		for i := 1; i <= cfg.Writers; i++ {
			kinds = append(kinds, Fault{Kind: CrashLoop, Target: fmt.Sprintf("event-writer-%d", i)})
		}
		kinds = slices.DeleteFunc(kinds, func(f Fault) bool {
			name := string(f.Kind) + " " + f.Target
			if f.Kind == Duplicates {
				name = string(Duplicates)
			}
			return !slices.Contains(cfg.Only, name)
		})
		if len(kinds) == 0 {
			return nil
		}
	}
	stream := time.Duration(float64(cfg.Events) / cfg.Rate * float64(time.Second))
	n := len(kinds) * cfg.Rounds
	// Faults fill the middle 80% of the stream, so the first events see a
	// healthy pipeline and the last ones a healed one.
	slot := stream * 8 / 10 / time.Duration(n)
	var out []Fault
	for r := range cfg.Rounds {
		order := rng.Perm(len(kinds))
		for j, k := range order {
			f := kinds[k]
			i := r*len(kinds) + j
			f.At = stream/10 + time.Duration(i)*slot + time.Duration(rng.Float64()*float64(slot/2))
			switch f.Kind {
			case KillService, CrashLoop:
				// From an immediate restart up to ServiceDown.
				f.Down = time.Duration(rng.Float64() * float64(cfg.ServiceDown))
			case RestartBroker:
				f.Down = cfg.BrokerDown/2 + time.Duration(rng.Float64()*float64(cfg.BrokerDown/2))
			case CutPostgres:
				f.Down = cfg.PostgresOutage/2 + time.Duration(rng.Float64()*float64(cfg.PostgresOutage/2))
			case Duplicates:
				f.Count = cfg.Duplicates
			}
			out = append(out, f)
		}
	}
	return out
}
