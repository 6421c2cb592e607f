console.log("kernel install: todo")
