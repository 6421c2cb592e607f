export * from "./sql";
