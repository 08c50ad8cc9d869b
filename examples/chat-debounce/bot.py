"""The bot: what the seed's PROCESSING_LAMBDAS_MAP pointed at (`bot1-chat-lambda`).

lull runs it as a command handler once per debounced conversation: the conversation comes
as JSON on stdin (`{app, platform, conversation, text, messages, first_at, last_at}`, `text`
being the fragments joined with newlines), and the answer goes to stdout. The reply is
queued on the app's outbox and sent through Z-API to the same conversation.

If BOT_LOG is set, each conversation received is appended to it as one JSON line, so the
example can check what the bot was given.
"""

import json
import os
import sys


def answer(conversation: dict) -> dict:
    # A real bot would call its LLM here, once, with the whole burst.
    return {"reply": f"Recebi: {conversation['text']}"}


def main() -> None:
    conversation = json.load(sys.stdin)
    log = os.environ.get("BOT_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as out:
            out.write(json.dumps(conversation, ensure_ascii=False) + "\n")
    json.dump(answer(conversation), sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    main()
