// Validate Strimzi resources against Strimzi's CRD schemas: reads a JSON array of Kubernetes resources on
// stdin, validates every kafka.strimzi.io one with the generated validator of its kind and version, and
// prints one line per resource. Exit 1 when one is invalid or of a kind it has no schema for.
import { readFileSync } from "node:fs";

const resources = JSON.parse(readFileSync(0, "utf8"));
let failed = 0;
for (const resource of resources) {
  const [group, version] = resource.apiVersion.split("/");
  if (group !== "kafka.strimzi.io") continue;
  const name = `${resource.kind}/${resource.metadata?.name}`;
  let Model;
  try {
    ({ [resource.kind]: Model } = await import(
      `@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/${version}/${resource.kind}`
    ));
  } catch {
    console.log(`no schema: ${resource.apiVersion} ${name}`);
    failed++;
    continue;
  }
  try {
    new Model(resource).validate();
    console.log(`valid: ${resource.apiVersion} ${name}`);
  } catch (error) {
    console.log(`invalid: ${resource.apiVersion} ${name}: ${error.message}`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
