# Shortcuts for the scripts; each works on its own as well.
.PHONY: demo test bench package
demo:
	./scripts/demo
test:
	./scripts/test
bench:
	./scripts/bench
package:
	./scripts/package
