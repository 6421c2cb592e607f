export * from "./kernel";
export * from "./table";
export * from "./chart";
export * from "./figures";
export * from "./progress";
export * from "./dashboard";
export * from "./config";
