// Starts `tidymark server` (the Language Server Protocol over stdio) for Markdown files.
import * as vscode from "vscode";
import {
  ExecuteCommandRequest,
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

function makeClient(): LanguageClient {
  const settings = vscode.workspace.getConfiguration("tidymark");
  const command = settings.get<string>("path", "tidymark") || "tidymark";
  const serverOptions: ServerOptions = {
    command,
    args: ["server"],
    transport: TransportKind.stdio,
  };
  const config = settings.get<string>("config", "");
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "markdown" },
      { scheme: "untitled", language: "markdown" },
    ],
    initializationOptions: {
      config: config || undefined,
      debounceMs: settings.get<number>("debounceMs", 100),
    },
  };
  return new LanguageClient("tidymark", "tidymark", serverOptions, clientOptions);
}

async function start(): Promise<void> {
  client = makeClient();
  try {
    await client.start();
  } catch (err) {
    void vscode.window.showErrorMessage(
      `tidymark: cannot start \`${vscode.workspace.getConfiguration("tidymark").get("path")} server\` ` +
        `(install it with pip install 'tidymark[lsp]', or set tidymark.path): ${err}`,
    );
  }
}

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  context.subscriptions.push(
    vscode.commands.registerCommand("tidymark.fixAllInEditor", async () => {
      const editor = vscode.window.activeTextEditor;
      if (!client || !editor) {
        return;
      }
      await client.sendRequest(ExecuteCommandRequest.type, {
        command: "tidymark.fixAll",
        arguments: [editor.document.uri.toString()],
      });
    }),
    vscode.commands.registerCommand("tidymark.restart", async () => {
      if (client) {
        await client.stop();
      }
      await start();
    }),
    vscode.workspace.onDidChangeConfiguration(async (event) => {
      if (event.affectsConfiguration("tidymark")) {
        await vscode.commands.executeCommand("tidymark.restart");
      }
    }),
  );
  await start();
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
