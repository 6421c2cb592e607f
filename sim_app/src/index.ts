export * from "@cbkit/common";
export * from "./statlog";
export { simulate, type SimulateOptions, type SimulationResult } from "./simulate";
export { runWorkshop, gatePasses, type GateRule, type WorkshopOptions, type WorkshopResult, type LoopRow, type GateScore } from "./workshop/run";
export * from "./workshop/notebook";
