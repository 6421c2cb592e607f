export * from "@cbkit/common";
export * from "./statlog";
export { simulate, runProtocol, type SimulateOptions, type SimulationResult, type ProtocolLearner, type ProtocolOptions, type ProtocolResult } from "./simulate";
export { runWorkshop, gatePasses, type GateRule, type WorkshopOptions, type WorkshopResult, type LoopRow, type GateScore } from "./workshop/run";
export * from "./workshop/notebook";
