# Developer targets: the whole service on one machine (cmd/matching-dev, pkg/devstack).
# event, reply and tail find the running stack through .matching-dev.json, which make run writes.
DEV := $(GO) run ./cmd/matching-dev

# run builds matching-dev and execs it in place of the recipe's shell, so the
# process make started is matching-dev itself: a SIGTERM to make, which make
# passes on to its child, reaches matching-dev and stops the stack. (Under
# `go run` it reached only the go command, which exits without passing it
# on and left matching-dev running with every port.)
.PHONY: run
run: ## the whole service locally until Ctrl-C or SIGTERM, on 127.0.0.1: PostgreSQL, embedded Kafka on :9092, all functions, the API on :8003, fake neighbours on :8010 with demo data (KEEP=1 keeps the last run's data; ARGS='-host 0.0.0.0 …' see matching-dev run -h)
	@mkdir -p bin && $(GO) build -o bin/matching-dev ./cmd/matching-dev && exec bin/matching-dev run $(if $(KEEP),-keep) $(ARGS)

.PHONY: event
event: ## publish an event to its topic: make event TYPE=patient.deleted DATA='{"patient_id":3}' [FORM=envelope|cloudevent] [KEY=..]
	@$(DEV) event -type "$$TYPE" -data "$$DATA" -form "$(or $(FORM),envelope)" -key "$$KEY"

.PHONY: reply
reply: ## deliver a therapist's email reply to an anfrage as the communication service does: make reply ANFRAGE=2 TEXT='Person 1 nehme ich gern auf. …' [SUBJECT=…]
	@$(DEV) reply -anfrage "$$ANFRAGE" -text "$$TEXT" -subject "$$SUBJECT"

.PHONY: tail
tail: ## follow matching-events readably (type, key, payload); FROM_BEGINNING=1 shows what is there, TOPIC=… another topic
	@$(DEV) tail -topic "$(or $(TOPIC),matching-events)" $(if $(FROM_BEGINNING),-from-beginning)

.PHONY: follow-up-once
follow-up-once: ## run the follow-up job once against the running stack (ARGS='--dry-run --as-of 2025-03-28')
	@$(DEV) follow-up $(ARGS)

.PHONY: patient-update
patient-update: ## change a patient at the fake patient service, which publishes patient.updated: make patient-update ID=7 DATA='{"bevorzugtes_therapeutengeschlecht":"Weiblich"}'
	@$(DEV) patient-update -id "$$ID" -data "$$DATA"

.PHONY: therapist-update
therapist-update: ## change a therapist at the fake therapist service, which publishes therapist.updated (.blocked/.unblocked on a status change): make therapist-update ID=3 DATA='{"alter_max":40}'
	@$(DEV) therapist-update -id "$$ID" -data "$$DATA"

.PHONY: replay
replay: ## replay the recorded history of a window with today's code and print the differences (exit 1 if any): make replay FROM=2025-08-11 [TO=now] [MANUAL=1]; the make run stack's database or DATABASE_URL
	@$(GO) run ./cmd/matching-replay -from "$(FROM)" $(if $(TO),-to "$(TO)") $(if $(MANUAL),-manual)
