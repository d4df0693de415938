/// Shell completion for the client: the commands, and the app names the server has for the
/// commands that take one (asked with `slipway apps --json`, so the completion needs the login).
enum Completion {
    static let appCommands = ["deploy", "redeploy", "rollback", "deployments", "logs", "env", "stop", "start", "restart", "delete", "open"]

    static func script(for shell: String) -> String? {
        let commands = ClientCLI.commands.sorted().joined(separator: " ") + " help"
        let apps = appCommands.joined(separator: "|")
        switch shell {
        case "bash":
            return """
                # slipway completion for bash: eval "$(slipway completion bash)"
                _slipway() {
                    local cur=${COMP_WORDS[COMP_CWORD]}
                    if [ "$COMP_CWORD" -eq 1 ]; then
                        COMPREPLY=($(compgen -W "\(commands)" -- "$cur"))
                    elif [ "$COMP_CWORD" -eq 2 ]; then
                        case ${COMP_WORDS[1]} in
                            \(apps))
                                COMPREPLY=($(compgen -W "$(slipway apps --json 2>/dev/null | tr ',' '\\n' | sed -n 's/.*"name":"\\([^"]*\\)".*/\\1/p')" -- "$cur")) ;;
                            help) COMPREPLY=($(compgen -W "\(commands)" -- "$cur")) ;;
                            completion) COMPREPLY=($(compgen -W "bash zsh" -- "$cur")) ;;
                        esac
                    fi
                }
                complete -F _slipway slipway

                """
        case "zsh":
            return """
                #compdef slipway
                # slipway completion for zsh: eval "$(slipway completion zsh)"
                _slipway() {
                    if (( CURRENT == 2 )); then
                        compadd -- \(commands)
                    elif (( CURRENT == 3 )); then
                        case $words[2] in
                            \(apps))
                                compadd -- ${(f)"$(slipway apps --json 2>/dev/null | tr ',' '\\n' | sed -n 's/.*"name":"\\([^"]*\\)".*/\\1/p')"} ;;
                            help) compadd -- \(commands) ;;
                            completion) compadd -- bash zsh ;;
                        esac
                    fi
                }
                compdef _slipway slipway

                """
        default:
            return nil
        }
    }
}
