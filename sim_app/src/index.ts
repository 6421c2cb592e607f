export * from "@cbkit/common";
