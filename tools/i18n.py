"""Extract the web UI's messages and write the pt-BR catalogs (.po for people, .mo for gettext).

    python tools/i18n.py            # rewrite catalogs from TRANSLATIONS below
    python tools/i18n.py --check    # exit 1 if a message in the code has no pt-BR translation

One catalog per package (crm_stub, crm_webhooks), so the host never carries
an addon's words.  The translations live here, in one reviewable table.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[1]
METHODS = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
# N_ and Np_ mark the domain's message ids (crm_webhooks/domain/messages.py), translated at the surface.
KEYWORDS = {"_": None, "gettext": None, "N_": None, "ngettext": (1, 2), "Np_": (1, 2)}

TRANSLATIONS = {
    # host
    "System": "Sistema",
    "Integrations": "Integrações",
    "Log in": "Entrar",
    "Log out": "Sair",
    "E-mail": "E-mail",
    "Password": "Senha",
    "Wrong e-mail or password.": "E-mail ou senha incorretos.",
    "Too many wrong passwords for this e-mail. Try again in %(minutes)s min.": "Senhas erradas demais para este e-mail. Tente de novo em %(minutes)s min.",
    "Too many wrong passwords from your network address. Try again in %(minutes)s min.": "Senhas erradas demais a partir do seu endereço de rede. Tente de novo em %(minutes)s min.",
    "The server is busy checking other log-ins. Try again in a moment.": "O servidor está ocupado verificando outros acessos. Tente de novo em instantes.",
    "Only administrators can open the System pages.": "Somente administradores podem abrir as páginas de Sistema.",
    "No integration is installed.": "Nenhuma integração instalada.",
    "This form has expired or did not come from this site: nothing was changed. Reload the page and try again.": "Este formulário expirou ou não veio deste site: nada foi alterado. Recarregue a página e tente de novo.",
    "The database cannot be reached right now: nothing was changed. Try again in a moment.": (
        "O banco de dados não está acessível agora: nada foi alterado. Tente de novo em instantes."
    ),
    # webhooks
    "Webhooks": "Webhooks",
    "Send CRM events to other systems as signed HTTP calls.": "Envie eventos do CRM para outros sistemas como chamadas HTTP assinadas.",
    "Actions": "Ações",
    "Add Webhook": "Adicionar Webhook",
    "Attempt": "Tentativa",
    "Attempts": "Tentativas",
    "Back to webhooks": "Voltar aos webhooks",
    "Cancel": "Cancelar",
    "Choose an event": "Escolha um evento",
    "Leads": "Prospectos",
    "Events": "Eventos",
    "Every event": "Todos os eventos",
    "Every event of %(entity)s": "Todos os eventos de %(entity)s",
    "Every “%(action)s” event": "Todo evento “%(action)s”",
    "leads": "prospectos",
    "clients": "clientes",
    "sales opportunities": "oportunidades de vendas",
    "quotes": "cotações",
    "sales": "vendas",
    "webhooks": "webhooks",
    "created": "criado",
    "edited": "editado",
    "stage changed": "mudança de fase",
    "reassigned": "reatribuído",
    "follow-up": "seguimento",
    "tagged": "etiquetado",
    "shared": "compartilhado",
    "unshared": "não compartilhado",
    "archived": "arquivado",
    "discarded": "descartado",
    "reactivated": "reativado",
    "Other patterns": "Outros padrões",
    "One change on every entity, such as *.stage_changed; separate several with commas.": "Uma mudança em todas as entidades, como *.stage_changed; separe vários com vírgulas.",
    "“Every event” means the CRM's events: the Webhooks group, about the hooks themselves (one failing, disabled or recovered), is chosen on its own.": "“Todos os eventos” são os do CRM: o grupo Webhooks, sobre os próprios webhooks (um falhando, desativado ou recuperado), é escolhido à parte.",
    "Each event chosen reaches the hook once, however many of the boxes below match it. “All events” also takes those a later version adds.": "Cada evento escolhido chega ao webhook uma vez, por mais caixas abaixo que o incluam. “Todos os eventos” inclui também os que uma versão futura acrescentar.",
    "%(value)s: a pattern stars a whole part, once ('lead.*', '*.created' or '*')": "%(value)s: um padrão troca uma parte inteira por *, uma vez ('lead.*', '*.created' ou '*')",
    "%(value)s: no event ends in .%(action)s (endings: %(choices)s)": "%(value)s: nenhum evento termina em .%(action)s (finais: %(choices)s)",
    "%(value)s: no such entity (entities: %(choices)s)": "%(value)s: entidade inexistente (entidades: %(choices)s)",
    "a list of event codes or patterns, e.g. ['lead.*', 'sale.created']": "uma lista de códigos ou padrões de eventos, p. ex. ['lead.*', 'sale.created']",
    "at least one event": "ao menos um evento",
    "the body is sent as UTF-8: charset=%(charset)s cannot be": "o corpo é enviado em UTF-8: charset=%(charset)s não é possível",
    "at most %(limit)s events (got %(count)s)": "no máximo %(limit)s eventos (recebidos %(count)s)",
    "each event is a code or a pattern such as 'lead.*', got %(value)s": "cada evento é um código ou um padrão como 'lead.*'; recebido %(value)s",
    "give either event (one code) or events (a list), not both": "informe event (um código) ou events (uma lista), não os dois",
    "Clients": "Clientes",
    "Sales opportunities": "Oportunidades de vendas",
    "Quotes": "Cotações",
    "Sales": "Vendas",
    "Configuration": "Configuração",
    "Created": "Criado em",
    "Delete": "Excluir",
    "Delete webhook “%(name)s”?": "Excluir o webhook “%(name)s”?",
    "Its history goes with it. Events it did not deliver yet will not be sent.": "O histórico será excluído junto. Eventos ainda não entregues não serão enviados.",
    "Delivery": "Entrega",
    "Disable": "Desativar",
    "Enable": "Ativar",
    "Event": "Evento",
    "History": "Histórico",
    "Key": "Chave",
    "Value": "Valor",
    "unchanged": "inalterado",
    "Order": "Ordem",
    "Per record, in the order things happened": "Por registro, na ordem em que aconteceu",
    "None: each event as soon as it can go": "Nenhuma: cada evento assim que puder ser enviado",
    "Per record: a record's next event waits while an earlier one of it is still being delivered or retried; other records are not held back.": "Por registro: o próximo evento de um registro espera enquanto um anterior dele ainda está sendo entregue ou tentado de novo; os outros registros não esperam.",
    "waits behind #%(id)s": "espera a #%(id)s",
    "held: hook disabled": "retida: webhook desativado",
    "Waits behind an earlier event of the same record:": "Espera um evento anterior do mesmo registro:",
    "It goes once that one is delivered, or has failed for good.": "Segue assim que aquele for entregue, ou tiver falhado de vez.",
    "Held while the hook is disabled; it goes when the hook is enabled again.": "Retida enquanto o webhook está desativado; segue quando ele for ativado de novo.",
    "Stored, not shown. Leave it empty to keep it; enter it again when you change the URL.": "Guardado e não exibido. Deixe em branco para mantê-lo; digite-o de novo ao mudar a URL.",
    "Last execution": "Última execução",
    "Last run": "Última execução",
    "Method": "Método",
    "Name": "Nome",
    "URL": "URL",
    "Status": "Status",
    "New secret for “%(name)s”": "Novo segredo para “%(name)s”",
    "Newest": "Mais recentes",
    "Older": "Mais antigos",
    "No webhook yet. Add one to send CRM events to another system.": "Nenhum webhook ainda. Adicione um para enviar eventos do CRM a outro sistema.",
    "Not attempted yet.": "Ainda não houve tentativa.",
    "Not found: %(what)s": "Não encontrado: %(what)s",
    "Nothing sent yet.": "Nada enviado ainda.",
    "Payload": "Conteúdo",
    "Body sent": "Corpo enviado",
    "The event as the hook's body template read it; each attempt above shows the body that went.": (
        "O evento como o modelo de corpo do webhook o leu; cada tentativa acima mostra o corpo que foi enviado."
    ),
    "Redeliver": "Reenviar",
    "Request": "Requisição",
    "Response": "Resposta",
    "Rotate secret": "Trocar segredo",
    "Save": "Salvar",
    "Send test": "Enviar teste",
    "Sent again: %(status)s.": "Reenviado: %(status)s.",
    "Test sent: %(status)s.": "Teste enviado: %(status)s.",
    "Signing secret": "Segredo de assinatura",
    "Signing secret (shown to you for 10 minutes: copy it now; the receiver uses it to check the webhook-signature header):": "Segredo de assinatura (mostrado a você por 10 minutos: copie-o agora; o receptor o usa para conferir o cabeçalho webhook-signature):",
    "The key/value pair is sent as an HTTP header with every call, to authenticate it.": "O par chave/valor é enviado como cabeçalho HTTP em cada chamada, para autenticá-la.",
    "The previous secret keeps signing too until %(when)s.": "O segredo anterior continua assinando até %(when)s.",
    "Webhook “%(name)s” created": "Webhook “%(name)s” criado",
    "Webhook “%(name)s” deleted.": "Webhook “%(name)s” excluído.",
    "Webhook “%(name)s” disabled.": "Webhook “%(name)s” desativado.",
    "Webhook “%(name)s” enabled.": "Webhook “%(name)s” ativado.",
    "Webhook “%(name)s” saved.": "Webhook “%(name)s” salvo.",
    "next attempt": "próxima tentativa",
    "test": "teste",
    "never run": "nunca executado",
    "succeeded": "sucesso",
    "failing": "com falhas",
    "disabled": "desativado",
    "pending": "pendente",
    "failed": "falhou",
    # the domain's messages (crm_webhooks/domain): validation, reasons, statuses
    "required": "obrigatório",
    "required when a key is given": "obrigatório quando há uma chave",
    "required when a value is given": "obrigatório quando há um valor",
    "required again when the URL changes (or empty the key to send no header)": "obrigatório de novo quando a URL muda (ou esvazie a chave para não enviar cabeçalho)",
    "expected text": "esperava texto",
    "expected text, got a list": "esperava texto, veio uma lista",
    "expected text, got a number": "esperava texto, veio um número",
    "expected text, got an object": "esperava texto, veio um objeto",
    "expected text, got null": "esperava texto, veio null",
    "expected text, got true or false": "esperava texto, veio true ou false",
    "expected true or false, got %(value)s": "esperava true ou false, veio %(value)s",
    "at most %(limit)s characters (got %(length)s)": "no máximo %(limit)s caracteres (tem %(length)s)",
    "%(value)s is not one of %(choices)s": "%(value)s não é um de %(choices)s",
    # conditions and body templates (crm_webhooks/domain/templating.py)
    "%(tag)s is not available in a body template": "%(tag)s não está disponível em um modelo de corpo",
    "a %(method)s request carries no body: use POST, PUT or PATCH, or remove the template": "uma requisição %(method)s não leva corpo: use POST, PUT ou PATCH, ou remova o modelo",
    "%(value)s is not a media type (e.g. application/json)": "%(value)s não é um tipo de mídia (ex.: application/json)",
    "a number would have more than %(limit)s bits": "um número teria mais de %(limit)s bits",
    "a value would be longer than %(limit)s characters": "um valor teria mais de %(limit)s caracteres",
    "line %(line)s: %(reason)s": "linha %(line)s: %(reason)s",
    "the body is not valid JSON: %(error)s": "o corpo não é um JSON válido: %(error)s",
    "the body is not valid JSON: line %(line)s, column %(column)s: %(error)s": "o corpo não é um JSON válido: linha %(line)s, coluna %(column)s: %(error)s",
    "the body would be longer than %(limit)s characters": "o corpo teria mais de %(limit)s caracteres",
    "more than %(limit)s characters made in all": "mais de %(limit)s caracteres produzidos no total",
    "too complex to compile: %(error)s": "complexo demais para compilar: %(error)s",
    "took longer than %(ms)s ms": "levou mais de %(ms)s ms",
    "unknown name %(names)s (available: %(allowed)s)": "nome desconhecido %(names)s (disponíveis: %(allowed)s)",
    "%(value)s is not an event of the catalog (e.g. 'sale.created'; see `crm-webhooks events`)": "%(value)s não é um evento do catálogo (por exemplo 'sale.created'; veja `crm-webhooks events`)",
    "%(value)s is not a valid header name (letters, digits and !#$%%&'*+-.^_`|~)": "%(value)s não é um nome de cabeçalho válido (letras, dígitos e !#$%%&'*+-.^_`|~)",
    "%(value)s is set by the webhook itself; choose another header (e.g. X-Api-Key)": "%(value)s é definido pelo próprio webhook; escolha outro cabeçalho (por exemplo X-Api-Key)",
    "HTTP header values must be Latin-1 text": "valores de cabeçalho HTTP devem ser texto Latin-1",
    "must not contain line breaks, NUL or other control characters": "não pode conter quebras de linha, NUL ou outros caracteres de controle",
    "must not contain spaces or control characters": "não pode conter espaços nem caracteres de controle",
    "must start with http:// or https://": "deve começar com http:// ou https://",
    "must name a host": "deve indicar um host",
    "must not carry credentials; use the key/value header to authenticate": "não pode levar credenciais; use o cabeçalho chave/valor para autenticar",
    "must not have a #fragment (it is never sent)": "não pode ter um #fragmento (ele nunca é enviado)",
    "not a valid URL: check the host's brackets and that the port is a number from 1 to 65535": "não é uma URL válida: confira os colchetes do host e se a porta é um número de 1 a 65535",
    "%(why)s (%(inner)s, embedded in %(address)s)": "%(why)s (%(inner)s, embutido em %(address)s)",
    "hook %(id)s not found": "webhook %(id)s não encontrado",
    "delivery %(id)s not found": "entrega %(id)s não encontrada",
    "nested too deeply to read": "aninhado fundo demais para ler",
    "expected a JSON object (Content-Type: application/json)": "esperava um objeto JSON (Content-Type: application/json)",
    "port 0 is not a port": "a porta 0 não é uma porta",
    "not a hook field (fields: %(fields)s)": "não é um campo de webhook (campos: %(fields)s)",
    "%(address)s is %(why)s": "%(address)s é %(why)s",
    "%(host)s stands for %(address)s, %(why)s": "%(host)s equivale a %(address)s, %(why)s",
    "%(host)s stands for %(address)s: write it as %(address)s": "%(host)s equivale a %(address)s: escreva %(address)s",
    "not an IP address": "não é um endereço IP",
    "a link-local address, refused even on private networks": "um endereço link-local, recusado mesmo em redes privadas",
    "a cloud metadata address, refused even on private networks": "um endereço de metadados de nuvem, recusado mesmo em redes privadas",
    "the unspecified address": "o endereço não especificado",
    "a multicast address": "um endereço multicast",
    "a loopback address (allow_private_networks is off)": "um endereço de loopback (allow_private_networks está desligado)",
    "a reserved address": "um endereço reservado",
    "a site-local address (allow_private_networks is off)": "um endereço site-local (allow_private_networks está desligado)",
    "a private address (allow_private_networks is off)": "um endereço privado (allow_private_networks está desligado)",
    "not a public address (allow_private_networks is off)": "não é um endereço público (allow_private_networks está desligado)",
    "created disabled": "criado desativado",
    "disabled by an admin": "desativado por um administrador",
    "disabled automatically: the receiver answered 410 Gone": "desativado automaticamente: o receptor respondeu 410 Gone",
    (
        "disabled automatically after %(count)s failed delivery in a row",
        "disabled automatically after %(count)s failed deliveries in a row",
    ): (
        "desativado automaticamente após %(count)s entrega com falha seguida",
        "desativado automaticamente após %(count)s entregas com falha seguidas",
    ),
    ("failing: %(count)s failed delivery in a row", "failing: %(count)s failed deliveries in a row"): (
        "com falhas: %(count)s entrega com falha seguida",
        "com falhas: %(count)s entregas com falha seguidas",
    ),
    "failing: the last attempt failed": "com falhas: a última tentativa falhou",
    "%(reason)s, since %(when)s UTC": "%(reason)s, desde %(when)s UTC",
    "%(value)s is not a whole number": "%(value)s não é um número inteiro",
    "a whole number from 1 to %(high)s": "um número inteiro de 1 a %(high)s",
    "give at least one field to change": "informe ao menos um campo a mudar",
    "must be from %(low)s to %(high)s": "deve estar entre %(low)s e %(high)s",
    "not a query parameter of this operation": "não é um parâmetro de consulta desta operação",
    "not valid Unicode text (a lone surrogate)": "não é texto Unicode válido (um substituto isolado)",
    "must not contain NUL characters": "não pode conter caracteres NUL",
    # charts (issue 15, "something to look at"): the hook's last 24 hours and the list's sparklines
    "Last 24 hours": "Últimas 24 horas",
    "Last 24 h: %(succeeded)s delivered, %(failed)s failed, %(pending)s pending.": "Últimas 24 h: %(succeeded)s com sucesso, %(failed)s com falha, %(pending)s em espera.",
    "Deliveries per hour and attempt duration, %(start)s to %(end)s UTC": "Entregas por hora e duração das tentativas, de %(start)s a %(end)s UTC",
    "Failures at:": "Falhas às:",
    "Attempt duration": "Duração das tentativas",
    "No deliveries in the last 24 hours.": "Nenhuma entrega nas últimas 24 horas.",
    "%(n)s failed": "%(n)s com falha",
    "p50 duration": "duração p50",
    "p95 duration": "duração p95",
    # the admin page: safety, finding, reading (issue 15, page)
    "A new secret signs every call from now on. The current one keeps signing too for a grace period, so the receiver has time to change it.": "Um novo segredo assina todas as chamadas a partir de agora. O atual continua assinando por um período de carência, para o receptor ter tempo de trocá-lo.",
    "A secret is shown only right after it is made. Rotate the secret to see a new one.": "Um segredo só é mostrado logo depois de criado. Troque o segredo para ver um novo.",
    "A test send, with sample data: it does not change the hook's status or its last run.": "Um envio de teste, com dados de exemplo: não muda o status do webhook nem a sua última execução.",
    "Actions for “%(name)s”": "Ações de “%(name)s”",
    "All": "Todas",
    "All events": "Todos os eventos",
    "All statuses": "Todos os status",
    "Breadcrumb": "Trilha de navegação",
    "Clear": "Limpar",
    "Copied": "Copiado",
    "Copy": "Copiar",
    "Filter": "Filtrar",
    "Name or URL": "Nome ou URL",
    "Newer": "Mais novos",
    "No delivery with this status.": "Nenhuma entrega com este status.",
    "No webhook matches these filters.": "Nenhum webhook atende a estes filtros.",
    "Pages": "Páginas",
    "Rotate the secret of “%(name)s”?": "Trocar o segredo de “%(name)s”?",
    "Search": "Buscar",
    "Show all": "Mostrar todos",
    "give either before or after, not both": "informe before ou after, não os dois",
    "text of at most %(high)s characters": "texto de no máximo %(high)s caracteres",
    # replay failed deliveries (issue 15: recovery from the page)
    "%(value)s is not a duration like 90s, 30m, 2h, 7d": "%(value)s não é uma duração como 90s, 30m, 2h, 7d",
    "%(value)s goes back further than any date": "%(value)s volta mais longe que qualquer data",
    "a duration like 2h, 30m, 7d or an ISO 8601 date/time, as text": "uma duração como 2h, 30m, 7d ou uma data/hora ISO 8601, como texto",
    "%(value)s is neither a duration like 2h, 30m, 7d nor an ISO 8601 date/time": "%(value)s não é uma duração como 2h, 30m, 7d nem uma data/hora ISO 8601",
    "a hook id (a whole number from 1), or null for every hook": "um id de webhook (um número inteiro a partir de 1), ou null para todos",
    "not a field of this operation": "não é um campo desta operação",
    "Empty: the latest stored event of the hook's events. Preview sends nothing and saves nothing.": (
        "Vazio: o último evento armazenado dos eventos do webhook. A pré-visualização não envia nem salva nada."
    ),
    "Nothing would be sent: %(error)s": "Nada seria enviado: %(error)s",
    "Preview": "Pré-visualizar",
    "Record to preview": "Registro a pré-visualizar",
    "The condition cannot be evaluated: %(error)s": "A condição não pode ser avaliada: %(error)s",
    "The condition is false: nothing would be sent.": "A condição é falsa: nada seria enviado.",
    "The condition is true.": "A condição é verdadeira.",
    "What would be sent": "O que seria enviado",
    "the latest stored event": "o último evento armazenado",
    "%(value)s is not an event of %(entity)s records": "%(value)s não é um evento de registros %(entity)s",
    "%(value)s is not entity:id, e.g. lead:42": "%(value)s não está no formato entidade:id, por exemplo lead:42",
    "%(value)s is not one of this hook's events (%(codes)s)": "%(value)s não é um dos eventos deste webhook (%(codes)s)",
    "a follow-up is a record of its own: leave out record to preview the latest one stored": (
        "um seguimento é um registro próprio: omita o registro para ver o último armazenado"
    ),
    "expected a whole number, got %(value)s": "esperado um número inteiro, recebido %(value)s",
    "expected an object of hook fields": "esperado um objeto com campos do webhook",
    "no event of this hook's events is stored yet: name a record, e.g. lead:42": (
        "nenhum evento deste webhook foi armazenado ainda: indique um registro, por exemplo lead:42"
    ),
    "this hook takes no event of %(entity)s records": "este webhook não recebe eventos de registros %(entity)s",
    "Replay failed…": "Reenviar as que falharam…",
    "Replay failed deliveries": "Reenviar entregas com falha",
    "Replay failed": "Reenviar as que falharam",
    "Failed since": "Com falha desde",
    "1 hour": "1 hora",
    "6 hours": "6 horas",
    "24 hours": "24 horas",
    "7 days": "7 dias",
    "Or from (UTC)": "Ou a partir de (UTC)",
    "When filled, it is used instead of the period above.": "Quando preenchido, é usado no lugar do período acima.",
    "Enter a date and time (UTC), or empty it to use the period above.": "Digite uma data e hora (UTC), ou esvazie o campo para usar o período acima.",
    "Update preview": "Atualizar prévia",
    "The webhook is disabled: they will wait until it is enabled again.": "O webhook está desativado: elas vão esperar até que ele seja ativado de novo.",
    "Each goes as a new delivery of the same event, with the same webhook-id. Test sends are not sent again.": "Cada uma vai como uma nova entrega do mesmo evento, com o mesmo webhook-id. Envios de teste não são reenviados.",
    "Back to history": "Voltar ao histórico",
    "No failed delivery since %(since)s is left to send again.": "Nenhuma entrega com falha desde %(since)s ficou para reenviar.",
    "Choose since when again.": "Escolha de novo desde quando.",
    "Replay progress": "Andamento do reenvio",
    "Done: none is pending.": "Concluído: nenhuma pendente.",
    "Still sending: this page reloads every few seconds.": "Ainda enviando: esta página se recarrega a cada poucos segundos.",
    "Refresh": "Atualizar",
    (
        "%(num)d failed delivery since %(since)s will be sent again, oldest first.",
        "%(num)d failed deliveries since %(since)s will be sent again, oldest first.",
    ): (
        "%(num)d entrega com falha desde %(since)s será enviada de novo, da mais antiga para a mais recente.",
        "%(num)d entregas com falha desde %(since)s serão enviadas de novo, da mais antiga para a mais recente.",
    ),
    ("%(num)d more will be left for another replay.", "%(num)d more will be left for another replay."): (
        "Restará mais %(num)d para outro reenvio.",
        "Restarão mais %(num)d para outro reenvio.",
    ),
    ("Send %(num)d delivery again", "Send %(num)d deliveries again"): (
        "Reenviar %(num)d entrega",
        "Reenviar %(num)d entregas",
    ),
    ("%(num)d delivery queued again at %(when)s.", "%(num)d deliveries queued again at %(when)s."): (
        "%(num)d entrega enfileirada de novo em %(when)s.",
        "%(num)d entregas enfileiradas de novo em %(when)s.",
    ),
    ("%(num)d delivered", "%(num)d delivered"): ("%(num)d entregue", "%(num)d entregues"),
    ("and %(num)d more", "and %(num)d more"): ("e mais %(num)d", "e mais %(num)d"),
    ("%(num)d failed", "%(num)d failed"): ("%(num)d falhou", "%(num)d falharam"),
    ("%(num)d pending", "%(num)d pending"): ("%(num)d pendente", "%(num)d pendentes"),
    "disabled since %(when)s UTC: %(reason)s": "desativado desde %(when)s UTC: %(reason)s",
    "disabled: %(reason)s": "desativado: %(reason)s",
    # attempts part (issue 15): the configuration's summary, an attempt's response headers
    "Failed deliveries in a row": "Entregas com falha seguidas",
    "Last changed": "Última alteração",
    "Headers (%(count)s)": "Cabeçalhos (%(count)s)",
    "given more than once": "informado mais de uma vez",
    "No response.": "Sem resposta.",
    "Request headers": "Cabeçalhos da requisição",
    "replay %(id)s not found": "reenvio %(id)s não encontrado",
    # why an attempt failed (crm_webhooks/domain/attempt_errors.py)
    "TLS certificate not accepted: %(why)s": "certificado TLS não aceito: %(why)s",
    "TLS handshake failed: %(why)s": "falha no handshake TLS: %(why)s",
    "TLS handshake failed: %(why)s (does the receiver speak HTTPS?)": "falha no handshake TLS: %(why)s (o receptor fala HTTPS?)",
    "body template: %(why)s": "modelo de corpo: %(why)s",
    "condition: %(why)s": "condição: %(why)s",
    "connection refused": "conexão recusada",
    "could not resolve the host: %(why)s": "não foi possível resolver o host: %(why)s",
    "failed to connect to %(host)s:%(port)s: %(why)s": "falha ao conectar a %(host)s:%(port)s: %(why)s",
    "reading the response failed: %(why)s": "falha ao ler a resposta: %(why)s",
    "redirects are not followed": "redirecionamentos não são seguidos",
    "redirects are not followed (Location: %(location)s)": "redirecionamentos não são seguidos (Location: %(location)s)",
    "refused by the network guard: %(why)s": "recusado pela proteção de rede: %(why)s",
    "timed out after %(seconds)s s": "tempo esgotado após %(seconds)s s",
    "All webhooks": "Todos os webhooks",
    # the form's condition and body, the summary's and the list's word on them
    "Advanced: condition, body and rate": "Avançado: condição, corpo e ritmo",
    "Rate limit (attempts a second)": "Limite de ritmo (tentativas por segundo)",
    "no limit": "sem limite",
    "At most this many attempts a second, retries included, however many workers send them; empty: as fast as they go.": "No máximo esta quantidade de tentativas por segundo, retentativas incluídas, quantos workers as enviarem; em branco: tão rápido quanto forem.",
    "expected a number above 0 and at most %(most)s, or none for no limit; got %(value)s": "esperava um número acima de 0 e no máximo %(most)s, ou nenhum para não limitar; veio %(value)s",
    "Condition": "Condição",
    "Only the events it is true of are sent; empty: every event. For example:": "Só os eventos para os quais ela é verdadeira são enviados; em branco: todos os eventos. Por exemplo:",
    "object: the record as sent; previous: the old values of what changed; event: the event code, such as lead.created.": "object: o registro como é enviado; previous: os valores antigos do que mudou; event: o código do evento, como lead.created.",
    "Body": "Corpo",
    "Template": "Modelo",
    "Empty: the standard signed envelope. Otherwise a Jinja2 template over object, previous, event, hook, id and timestamp, sent as the body; the signature headers go with it.": "Em branco: o envelope assinado padrão. Senão, um modelo Jinja2 sobre object, previous, event, hook, id e timestamp, enviado como corpo; os cabeçalhos de assinatura vão junto.",
    "Content type": "Tipo de conteúdo",
    "Examples": "Exemplos",
    "Use this example": "Usar este exemplo",
    "Chat message": "Mensagem de chat",
    'One line in a chat channel (Slack and others whose incoming webhooks take {"text": …}): the event, the record\'s name and its stage.': 'Uma linha num canal de chat (Slack e outros cujos webhooks de entrada recebem {"text": …}): o evento, o nome do registro e sua fase.',
    "Flat sale for a point of sale": "Venda simplificada para ponto de venda",
    "For sale events: the customer, the value and the items' names, as a point-of-sale system takes them.": "Para eventos de venda: o cliente, o valor e os nomes dos itens, como um sistema de ponto de venda os recebe.",
    "Template (%(type)s)": "Modelo (%(type)s)",
    "Standard envelope": "Envelope padrão",
    ("%(num)d event skipped by its condition", "%(num)d events skipped by its condition"): (
        "%(num)d evento ignorado pela condição",
        "%(num)d eventos ignorados pela condição",
    ),
    "if %(condition)s": "se %(condition)s",
    # enabling a hook again, and the hooks in trouble
    "Webhook “%(name)s” is enabled already.": "O webhook “%(name)s” já está ativado.",
    ("%(num)d held delivery goes now.", "%(num)d held deliveries go now."): (
        "%(num)d entrega retida sai agora.",
        "%(num)d entregas retidas saem agora.",
    ),
    ("%(num)d failed delivery was queued again.", "%(num)d failed deliveries were queued again."): (
        "%(num)d entrega com falha foi enfileirada de novo.",
        "%(num)d entregas com falha foram enfileiradas de novo.",
    ),
    (
        "%(num)d more is left for a replay from its history.",
        "%(num)d more are left for a replay from its history.",
    ): (
        "Resta mais %(num)d para reenviar a partir do histórico.",
        "Restam mais %(num)d para reenviar a partir do histórico.",
    ),
    "Enable “%(name)s”?": "Ativar “%(name)s”?",
    ("%(num)d held delivery goes when it is enabled.", "%(num)d held deliveries go when it is enabled."): (
        "%(num)d entrega retida sai quando ele for ativado.",
        "%(num)d entregas retidas saem quando ele for ativado.",
    ),
    "No delivery is held.": "Nenhuma entrega está retida.",
    ("%(num)d delivery failed since %(since)s.", "%(num)d deliveries failed since %(since)s."): (
        "%(num)d entrega falhou desde %(since)s.",
        "%(num)d entregas falharam desde %(since)s.",
    ),
    "No delivery failed since its last success.": "Nenhuma entrega falhou desde o último sucesso.",
    ("Also send the %(num)d failed again", "Also send the %(num)d failed again"): (
        "Reenviar também a %(num)d que falhou",
        "Reenviar também as %(num)d que falharam",
    ),
    "Each goes as a new delivery of the same event, with the same webhook-id, oldest first, after the held ones.": "Cada uma sai como nova entrega do mesmo evento, com o mesmo webhook-id, da mais antiga para a mais recente, depois das retidas.",
    ("%(num)d webhook needs attention", "%(num)d webhooks need attention"): (
        "%(num)d webhook precisa de atenção",
        "%(num)d webhooks precisam de atenção",
    ),
    "disabled since %(since)s": "desativado desde %(since)s",
    "failing since %(since)s": "falhando desde %(since)s",
    "last error: %(error)s": "último erro: %(error)s",
    "nothing pending": "nada pendente",
    ("%(num)d delivery pending", "%(num)d deliveries pending"): (
        "%(num)d entrega pendente",
        "%(num)d entregas pendentes",
    ),
}

PACKAGES = {"crm_stub": ROOT / "crm_stub" / "web", "crm_webhooks": ROOT / "crm_webhooks"}

Msgid = str | tuple[str, str]  # a plural message is the pair (singular, plural)


def messages(source: Path) -> list[Msgid]:
    found = {msg for _file, _line, msg, _comments, _ctx in extract_from_dir(source, METHODS, keywords=KEYWORDS)}
    # A call with a computed argument (ngettext(*FORMS, n)) extracts with None in it: its ids are marked elsewhere.
    return sorted((m for m in found if isinstance(m, str) or None not in m), key=str)


def _forms(catalog: Catalog, translated: Msgid) -> Msgid:
    """A plural's (singular, plural) as the language's forms: CLDR's pt_BR has three (one, many, other)."""
    if isinstance(translated, str):
        return translated
    singular, plural = translated
    return (singular, *[plural] * (catalog.num_plurals - 1))


def main(check: bool) -> int:
    missing = []
    for package, source in PACKAGES.items():
        catalog = Catalog(locale="pt_BR", project=package, charset="utf-8")
        for msgid in messages(source):
            if msgid not in TRANSLATIONS:
                missing.append(f"{package}: {msgid!r}")
            catalog.add(msgid, _forms(catalog, TRANSLATIONS.get(msgid, ("", "") if isinstance(msgid, tuple) else "")))
        if check:
            continue
        target = ROOT / package / "translations" / "pt_BR" / "LC_MESSAGES"
        target.mkdir(parents=True, exist_ok=True)
        po, mo = io.BytesIO(), io.BytesIO()
        write_po(po, catalog, omit_header=True, sort_output=True)
        write_mo(mo, catalog)
        (target / "messages.po").write_bytes(po.getvalue())
        (target / "messages.mo").write_bytes(mo.getvalue())
    for line in missing:
        print(f"no pt-BR translation: {line}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main("--check" in sys.argv))
