// Parse every Adaptive Card given (a JSON array on stdin) with Microsoft's `adaptivecards` library
// and print, as JSON, the problems it reports per card: parse warnings and validation failures.
// The UMD bundle: the package's lib/ entry point is ES modules without file extensions, which Node cannot load.
const AC = require("adaptivecards/dist/adaptivecards.js");

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const cards = JSON.parse(input);
  const out = cards.map((json) => {
    const problems = [];
    const context = new AC.SerializationContext();
    const card = new AC.AdaptiveCard();
    // Teams' host config shows 6 buttons in a row (the library's default is 5).
    card.hostConfig = new AC.HostConfig({ actions: { maxActions: 6 } });
    card.parse(json, context);
    for (let i = 0; i < context.eventCount; i++) {
      const e = context.getEventAt(i);
      problems.push(`parse: ${AC.ValidationEvent[e.event] || e.event}: ${e.message}`);
    }
    const results = card.validateProperties();
    // The library predates Teams' dynamic typeahead: it wants static choices even when the
    // ChoiceSet fetches them (choices.data, a Data.Query), which Teams documents and renders.
    const dynamic = JSON.stringify(json).includes('"choices.data"');
    for (const e of results.validationEvents) {
      if (dynamic && e.event === AC.ValidationEvent.CollectionCantBeEmpty && /ChoiceSet/.test(e.message)) continue;
      problems.push(`validate: ${AC.ValidationEvent[e.event] || e.event}: ${e.message}`);
    }
    return problems;
  });
  process.stdout.write(JSON.stringify(out));
});
