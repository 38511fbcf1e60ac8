// Replaced by the lab orchestrator once it lands; lab test files ensure what they need in beforeAll.
export default async function setup(): Promise<void> {}
