export * from "@cbkit/common";
export * from "./statlog";
